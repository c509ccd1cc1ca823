// Files: upload (drag and drop, several at once, progress), list, download, delete. #/files
import {bytes, deleteButton, empty, field, h, replace, when} from '../dom.js';

const PURPOSES = ['assistants', 'user_data', 'vision', 'batch', 'fine-tune'];
const AT_ONCE = 3; // uploads in flight at the same time

// Uploads `files` with `purpose`, showing each in `list` with a progress bar; resolves to the
// uploaded file objects (failures are shown in the list and left out).
export async function uploadFiles(api, files, purpose, list) {
  const queue = [...files];
  const done = [];
  const one = async () => {
    while (queue.length) {
      const file = queue.shift();
      const bar = h('progress', {max: 1, value: 0});
      const state = h('span', {class: 'muted'}, 'waiting');
      const item = h('li', {class: 'upload'}, h('span', {class: 'name'}, file.name), ' ', h('span', {class: 'muted'}, bytes(file.size)), ' ', state, bar);
      list.appendChild(item);
      const form = new FormData();
      form.append('purpose', purpose);
      form.append('file', file, file.name);
      state.textContent = 'uploading';
      try {
        const uploaded = await api.upload('/files', form, (sent, total) => { bar.max = total; bar.value = sent; });
        bar.value = bar.max;
        state.textContent = 'uploaded';
        state.className = 'ok';
        item.dataset.state = 'uploaded';
        done.push(uploaded);
      } catch (error) {
        state.textContent = `failed: ${error.message}`;
        state.className = 'error';
        item.dataset.state = 'failed';
      }
    }
  };
  await Promise.all(Array.from({length: Math.min(AT_ONCE, queue.length)}, one));
  return done;
}

// A drop zone with a file picker: calls onFiles(FileList-like array).
export function dropZone(onFiles, label = 'Drop files here, or') {
  const input = h('input', {type: 'file', multiple: true, name: 'files', class: 'file-input'});
  const zone = h('div', {class: 'drop'}, h('p', {}, label), field('Choose files', input));
  input.addEventListener('change', () => { if (input.files.length) onFiles([...input.files]); input.value = ''; });
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    const dropped = [...((event.dataTransfer && event.dataTransfer.files) || [])];
    if (dropped.length) onFiles(dropped);
  });
  return zone;
}

export async function download(api, file) {
  const data = await api.blob(`/files/${encodeURIComponent(file.id)}/content`);
  const url = URL.createObjectURL(data);
  const link = h('a', {href: url, download: file.filename || file.id, hidden: true});
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export async function render(root, ctx) {
  const purpose = h('select', {name: 'purpose'}, PURPOSES.map((p) => h('option', {value: p}, p)));
  const uploads = h('ul', {class: 'uploads'});
  const table = h('div', {class: 'file-list'}, h('p', {class: 'muted'}, 'Loading…'));

  const load = async () => {
    const files = await ctx.api.listAll('/files', {}, 2000);
    if (!files.length) {
      replace(table, empty('No files yet for this key. Upload some above.'));
      return;
    }
    replace(table, h('table', {class: 'files'},
      h('thead', {}, h('tr', {}, ['Name', 'Purpose', 'Size', 'Created', 'ID', ''].map((t) => h('th', {class: t === 'Size' ? 'num' : null}, t)))),
      h('tbody', {}, files.map((file) => row(file)))));
  };

  const row = (file) => {
    const remove = deleteButton(ctx, 'Delete', 'delete', async () => {
      await ctx.api.delete(`/files/${encodeURIComponent(file.id)}`);
      ctx.status(`Deleted ${file.filename}.`);
      await load();
    });
    const get = h('button', {type: 'button', 'data-action': 'download'}, 'Download');
    get.addEventListener('click', async () => {
      try { await download(ctx.api, file); } catch (error) { ctx.status(error.message, 'error'); }
    });
    return h('tr', {'data-id': file.id},
      h('td', {'data-label': 'Name', class: 'name'}, file.filename),
      h('td', {'data-label': 'Purpose'}, file.purpose),
      h('td', {'data-label': 'Size', class: 'num'}, bytes(file.bytes)),
      h('td', {'data-label': 'Created'}, when(file.created_at)),
      h('td', {'data-label': 'ID', class: 'id'}, file.id),
      h('td', {class: 'row-actions'}, get, remove));
  };

  const zone = dropZone(async (files) => {
    const done = await uploadFiles(ctx.api, files, purpose.value, uploads);
    if (done.length) ctx.status(`Uploaded ${done.length} file${done.length === 1 ? '' : 's'}.`);
    await load();
  });
  replace(root,
    h('div', {class: 'bar'}, h('h1', {}, 'Files')),
    h('div', {class: 'card'}, h('h2', {}, 'Upload'), field('Purpose', purpose), zone, uploads),
    h('h2', {}, 'Your files'),
    table);
  await load();
}
