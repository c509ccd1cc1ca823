// Vector stores: create, add files, ingestion status per file (polled), search with ranked
// chunks and scores. #/stores, #/stores/<id>
import {bytes, deleteButton, empty, field, h, replace, when} from '../dom.js';
import {dropZone, uploadFiles} from './files.js';

const POLL_MS = 1000;

export async function render(root, ctx) {
  const [id] = ctx.params;
  return id ? detail(root, ctx, id) : list(root, ctx);
}

function counts(store) {
  const c = store.file_counts || {};
  return `${c.completed || 0} ready · ${c.in_progress || 0} in progress · ${c.failed || 0} failed`;
}

async function list(root, ctx) {
  const name = h('input', {name: 'store-name', maxlength: 256, placeholder: 'e.g. handbook'});
  const problem = h('p', {class: 'error form-error', role: 'alert'});
  const form = h('form', {class: 'card new-store', onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    try {
      const store = await ctx.api.post('/vector_stores', name.value.trim() ? {name: name.value.trim()} : {});
      ctx.navigate(`#/stores/${encodeURIComponent(store.id)}`);
    } catch (error) {
      problem.textContent = error.message;
    }
  }}, h('h2', {}, 'New vector store'), field('Name', name), problem,
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Create store')));
  replace(root, h('div', {class: 'bar'}, h('h1', {}, 'Vector stores')), form, h('p', {class: 'muted'}, 'Loading…'));
  const stores = await ctx.api.listAll('/vector_stores', {}, 1000);
  const body = stores.length
    ? h('table', {class: 'stores'},
      h('thead', {}, h('tr', {}, ['Name', 'Status', 'Files', 'Size', 'Created', 'ID'].map((t) => h('th', {}, t)))),
      h('tbody', {}, stores.map((store) => h('tr', {'data-id': store.id},
        h('td', {'data-label': 'Name'}, h('a', {class: 'name', href: `#/stores/${encodeURIComponent(store.id)}`}, store.name || '(unnamed)')),
        h('td', {'data-label': 'Status'}, h('span', {class: `badge ${store.status}`}, store.status)),
        h('td', {'data-label': 'Files'}, counts(store)),
        h('td', {'data-label': 'Size'}, bytes(store.usage_bytes)),
        h('td', {'data-label': 'Created'}, when(store.created_at)),
        h('td', {'data-label': 'ID', class: 'id'}, store.id)))))
    : empty('No vector stores yet for this key. Create one above, then add files to search them.');
  replace(root, h('div', {class: 'bar'}, h('h1', {}, 'Vector stores')), form, h('h2', {}, 'Your stores'), body);
}

async function detail(root, ctx, id) {
  const path = `/vector_stores/${encodeURIComponent(id)}`;
  let timer = null;
  let left = false;
  const header = h('div', {class: 'bar'}, h('h1', {}, 'Vector store'));
  const summary = h('p', {class: 'muted store-summary'});
  const filesBox = h('div', {class: 'store-files'}, h('p', {class: 'muted'}, 'Loading…'));
  const addBox = h('div', {class: 'add-files'});
  const uploads = h('ul', {class: 'uploads'});
  let names = new Map();

  const refresh = async () => {
    const [store, entries, files] = await Promise.all([
      ctx.api.get(path),
      ctx.api.listAll(`${path}/files`, {}, 2000),
      ctx.api.listAll('/files', {}, 2000),
    ]);
    if (left) return;
    names = new Map(files.map((file) => [file.id, file.filename]));
    const remove = deleteButton(ctx, 'Delete store', 'delete-store', async () => {
      await ctx.api.delete(path);
      ctx.status(`Deleted ${store.name || store.id}.`);
      ctx.navigate('#/stores');
    });
    replace(header, h('h1', {}, store.name || '(unnamed store)'), h('span', {class: 'id'}, store.id), remove);
    replace(summary, `${store.status} · ${counts(store)} · ${bytes(store.usage_bytes)}`);
    drawFiles(entries);
    drawAdd(files, new Set(entries.map((entry) => entry.id)));
    clearTimeout(timer);
    if (!left && (store.file_counts.in_progress > 0 || entries.some((entry) => entry.status === 'in_progress'))) {
      timer = setTimeout(() => refresh().catch((error) => ctx.status(error.message, 'error')), POLL_MS);
    }
  };

  const drawFiles = (entries) => {
    if (!entries.length) { replace(filesBox, empty('No files in this store yet. Add some below.')); return; }
    replace(filesBox, h('table', {class: 'store-file-table'},
      h('thead', {}, h('tr', {}, ['File', 'Status', 'Size', 'ID', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, entries.map((entry) => {
        const drop = h('button', {type: 'button', class: 'danger'}, 'Remove');
        drop.addEventListener('click', async () => {
          try { await ctx.api.delete(`${path}/files/${encodeURIComponent(entry.id)}`); await refresh(); } catch (error) { ctx.status(error.message, 'error'); }
        });
        return h('tr', {'data-id': entry.id, 'data-status': entry.status},
          h('td', {'data-label': 'File', class: 'name'}, names.get(entry.id) || entry.id),
          h('td', {'data-label': 'Status'}, h('span', {class: `badge ${entry.status}`}, entry.status),
            entry.last_error ? h('div', {class: 'error'}, entry.last_error.message) : null),
          h('td', {'data-label': 'Size'}, bytes(entry.usage_bytes)),
          h('td', {'data-label': 'ID', class: 'id'}, entry.id),
          h('td', {}, drop));
      }))));
  };

  const attach = async (fileIds) => {
    if (!fileIds.length) return;
    try {
      if (fileIds.length === 1) await ctx.api.post(`${path}/files`, {file_id: fileIds[0]});
      else await ctx.api.post(`${path}/file_batches`, {file_ids: fileIds});
      ctx.status(`Added ${fileIds.length} file${fileIds.length === 1 ? '' : 's'}; ingesting.`);
    } catch (error) {
      ctx.status(error.message, 'error');
    }
    await refresh();
  };

  const drawAdd = (files, present) => {
    const choices = files.filter((file) => !present.has(file.id));
    const boxes = choices.map((file) => {
      const box = h('input', {type: 'checkbox', name: 'add-file', value: file.id});
      box.id = `add-${file.id}`;
      return h('div', {class: 'check'}, box, h('label', {for: box.id}, file.filename, ' ', h('span', {class: 'id'}, file.id)));
    });
    const add = h('button', {type: 'button', class: 'primary', 'data-action': 'add-files'}, 'Add selected files');
    add.addEventListener('click', () => attach([...addBox.querySelectorAll('input[name=add-file]:checked')].map((box) => box.value)));
    replace(addBox,
      boxes.length ? h('div', {class: 'choices'}, boxes, add) : h('p', {class: 'muted'}, 'Every file you uploaded is in this store; upload more below.'));
  };

  const zone = dropZone(async (files) => {
    const done = await uploadFiles(ctx.api, files, 'assistants', uploads);
    await attach(done.map((file) => file.id));
  }, 'Upload files into this store: drop them here, or');

  const query = h('input', {type: 'search', name: 'query', required: true, placeholder: 'What are you looking for?'});
  const limit = h('input', {type: 'number', name: 'max_num_results', min: 1, max: 50, value: 10});
  const results = h('div', {class: 'results', 'aria-live': 'polite'});
  const search = h('form', {class: 'card search', onsubmit: async (event) => {
    event.preventDefault();
    if (!query.value.trim()) return;
    replace(results, h('p', {class: 'muted'}, 'Searching…'));
    try {
      const page = await ctx.api.post(`${path}/search`, {query: query.value, max_num_results: Number(limit.value) || 10});
      if (!page.data.length) { replace(results, empty('No chunks matched.')); return; }
      replace(results, h('ol', {class: 'chunks'}, page.data.map((hit) => h('li', {class: 'chunk', 'data-file': hit.file_id},
        h('div', {class: 'bar'}, h('span', {class: 'name'}, hit.filename || names.get(hit.file_id) || hit.file_id),
          h('span', {class: 'score'}, `score ${Number(hit.score).toFixed(3)}`)),
        (hit.content || []).map((part) => h('pre', {}, part.text))))));
    } catch (error) {
      replace(results, h('p', {class: 'error', role: 'alert'}, error.message));
    }
  }}, h('h2', {}, 'Search'), h('div', {class: 'grid2'}, field('Query', query), field('Results (at most)', limit)),
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Search')), results);

  replace(root, header, summary,
    h('h2', {}, 'Files'), filesBox,
    h('div', {class: 'card add-card'}, h('h2', {}, 'Add files'), addBox, zone, uploads),
    search);
  await refresh();
  return () => { left = true; clearTimeout(timer); };
}
