// Assistants: list, create, edit, delete. #/assistants, #/assistants/new, #/assistants/<id>
import {deleteButton, empty, field, h, replace, when} from '../dom.js';

const FORMATS = [
  ['auto', 'auto'],
  ['text', 'text'],
  ['json_object', 'JSON object'],
  ['json_schema', 'JSON schema'],
];

export async function render(root, ctx) {
  const [id] = ctx.params;
  if (id) return editor(root, ctx, id === 'new' ? null : id);
  return list(root, ctx);
}

function toolNames(assistant) {
  return (assistant.tools || []).map((tool) => (tool.type === 'function' ? tool.function.name : tool.type)).join(', ');
}

function metadataText(metadata) {
  return Object.entries(metadata || {}).map(([k, v]) => `${k}: ${v}`).join('; ');
}

async function list(root, ctx) {
  const create = h('a', {class: 'button primary', href: '#/assistants/new'}, 'New assistant');
  replace(root, h('div', {class: 'bar'}, h('h1', {}, 'Assistants'), create), h('p', {class: 'muted'}, 'Loading…'));
  const assistants = await ctx.api.listAll('/assistants');
  if (!assistants.length) {
    replace(root, h('div', {class: 'bar'}, h('h1', {}, 'Assistants')),
      empty('No assistants yet for this key.', h('a', {class: 'button primary', href: '#/assistants/new'}, 'Create an assistant')));
    return;
  }
  const rows = assistants.map((assistant) => {
    const remove = deleteButton(ctx, 'Delete', 'delete', async () => {
      await ctx.api.delete(`/assistants/${encodeURIComponent(assistant.id)}`);
      ctx.status(`Deleted ${assistant.name || assistant.id}.`);
      ctx.refresh();
    });
    return h('tr', {'data-id': assistant.id},
      h('td', {'data-label': 'Name'},
        h('a', {class: 'name', href: `#/assistants/${encodeURIComponent(assistant.id)}`}, assistant.name || '(unnamed)'),
        assistant.description ? h('div', {class: 'muted'}, assistant.description) : null,
        Object.keys(assistant.metadata || {}).length ? h('div', {class: 'muted meta'}, metadataText(assistant.metadata)) : null),
      h('td', {'data-label': 'Model'}, assistant.model),
      h('td', {'data-label': 'Tools'}, toolNames(assistant) || h('span', {class: 'muted'}, 'none')),
      h('td', {'data-label': 'ID', class: 'id'}, assistant.id),
      h('td', {'data-label': 'Created'}, when(assistant.created_at)),
      h('td', {class: 'row-actions'},
        h('a', {class: 'button', href: `#/playground?assistant=${encodeURIComponent(assistant.id)}`}, 'Try'),
        h('a', {class: 'button', href: `#/assistants/${encodeURIComponent(assistant.id)}`}, 'Edit'),
        remove));
  });
  replace(root, h('div', {class: 'bar'}, h('h1', {}, 'Assistants'), create),
    h('table', {class: 'assistants'},
      h('thead', {}, h('tr', {}, ['Name', 'Model', 'Tools', 'ID', 'Created', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows)));
}

// JSON typed into a textarea: the parsed value, or throws an Error naming the field.
function parseJSON(text, label, {object = true} = {}) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${label} is not valid JSON: ${error.message}`);
  }
  if (object && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new Error(`${label} must be a JSON object.`);
  }
  return value;
}

// A textarea whose JSON is checked as it is typed; `.problem()` says what is wrong (or null).
function jsonArea(name, value, label) {
  const area = h('textarea', {name, spellcheck: 'false', rows: 6}, value);
  const note = h('small', {class: 'hint json-note', 'aria-live': 'polite'});
  const problem = () => {
    if (!area.value.trim()) return null;
    try { parseJSON(area.value, label); return null; } catch (error) { return error.message; }
  };
  const check = () => {
    const found = problem();
    note.textContent = found || 'Valid JSON.';
    note.className = `hint json-note ${found ? 'error' : 'ok'}`;
    area.setAttribute('aria-invalid', found ? 'true' : 'false');
  };
  area.addEventListener('input', check);
  return {area, note, problem, check};
}

function functionEditor(tool, onRemove) {
  const fn = (tool && tool.function) || {};
  const name = h('input', {name: 'fn-name', value: fn.name || '', maxlength: 64, pattern: '[A-Za-z0-9_-]{1,64}', required: true});
  const description = h('input', {name: 'fn-description', value: fn.description || ''});
  const parameters = jsonArea('fn-parameters', JSON.stringify(fn.parameters || {type: 'object', properties: {}}, null, 2), 'Parameters');
  const strict = h('input', {type: 'checkbox', name: 'fn-strict', checked: Boolean(fn.strict)});
  const box = h('fieldset', {class: 'tool function'},
    h('legend', {}, 'Function'),
    h('div', {class: 'grid2'}, field('Name', name), field('Description', description)),
    field('Parameters (JSON schema)', parameters.area), parameters.note,
    h('div', {class: 'check'}, strict, h('label', {for: strict.id = `s-${Math.random().toString(36).slice(2)}`}, 'strict')),
    h('button', {type: 'button', class: 'danger', onclick: () => { box.remove(); onRemove(); }}, 'Remove function'));
  parameters.check();
  box.read = () => {
    const problem = parameters.problem();
    const label = name.value.trim() || 'a function';
    if (problem) throw new Error(`Function ${label}: ${problem}`);
    if (!name.value.trim()) throw new Error('Every function needs a name.');
    const out = {name: name.value.trim()};
    if (description.value.trim()) out.description = description.value.trim();
    if (parameters.area.value.trim()) out.parameters = JSON.parse(parameters.area.value);
    if (strict.checked) out.strict = true;
    return {type: 'function', function: out};
  };
  return box;
}

async function editor(root, ctx, id) {
  replace(root, h('p', {class: 'muted'}, 'Loading…'));
  const [assistant, stores, files] = await Promise.all([
    id ? ctx.api.get(`/assistants/${encodeURIComponent(id)}`) : Promise.resolve(null),
    ctx.api.listAll('/vector_stores', {}, 500),
    ctx.api.listAll('/files', {}, 1000),
  ]);
  const a = assistant || {tools: [], tool_resources: {}, metadata: {}};
  const tools = a.tools || [];
  const has = (type) => tools.some((tool) => tool.type === type);
  const resources = a.tool_resources || {};

  const name = h('input', {name: 'name', value: a.name || '', maxlength: 256});
  const model = h('input', {name: 'model', value: a.model || '', required: true, placeholder: 'e.g. gpt-4o-mini'});
  const description = h('input', {name: 'description', value: a.description || '', maxlength: 512});
  const instructions = h('textarea', {name: 'instructions', class: 'prose', rows: 8}, a.instructions || '');
  const temperature = h('input', {type: 'number', name: 'temperature', min: 0, max: 2, step: 0.01, value: a.temperature ?? ''});
  const topP = h('input', {type: 'number', name: 'top_p', min: 0, max: 1, step: 0.01, value: a.top_p ?? ''});

  const current = a.response_format && typeof a.response_format === 'object' ? a.response_format.type : (a.response_format || 'auto');
  const format = h('select', {name: 'response_format'}, FORMATS.map(([value, label]) => h('option', {value, selected: value === current}, label)));
  const schemaValue = current === 'json_schema' ? JSON.stringify(a.response_format.json_schema, null, 2)
    : JSON.stringify({name: 'answer', schema: {type: 'object', properties: {}}, strict: false}, null, 2);
  const schema = jsonArea('json_schema', schemaValue, 'JSON schema');
  const schemaBox = h('div', {class: 'schema'}, field('JSON schema (name, schema, strict)', schema.area), schema.note);
  const showSchema = () => { schemaBox.hidden = format.value !== 'json_schema'; };
  format.addEventListener('change', showSchema);
  showSchema();
  schema.check();

  const codeOn = h('input', {type: 'checkbox', name: 'code_interpreter', checked: has('code_interpreter')});
  const codeFiles = new Set(((resources.code_interpreter || {}).file_ids) || []);
  const codeList = h('div', {class: 'choices'}, files.length
    ? files.map((file) => {
      const box = h('input', {type: 'checkbox', name: 'ci-file', value: file.id, checked: codeFiles.has(file.id)});
      return h('div', {class: 'check'}, box, h('label', {for: box.id = `ci-${file.id}`}, file.filename, ' ', h('span', {class: 'id'}, file.id)));
    })
    : h('p', {class: 'muted'}, 'No files yet: upload some on the Files page.'));
  const searchOn = h('input', {type: 'checkbox', name: 'file_search', checked: has('file_search')});
  const storeIds = ((resources.file_search || {}).vector_store_ids) || [];
  const store = h('select', {name: 'vector_store'},
    h('option', {value: ''}, stores.length ? '(no vector store)' : '(no vector stores yet)'),
    stores.map((s) => h('option', {value: s.id, selected: storeIds.includes(s.id)}, `${s.name || '(unnamed)'} · ${s.id}`)));

  const functions = h('div', {class: 'functions'});
  const addFunction = (tool) => functions.appendChild(functionEditor(tool, () => {}));
  tools.filter((tool) => tool.type === 'function').forEach(addFunction);

  const metadata = jsonArea('metadata', JSON.stringify(a.metadata || {}, null, 2), 'Metadata');
  metadata.check();

  const problem = h('p', {class: 'error form-error', role: 'alert'});
  const save = h('button', {type: 'submit', class: 'primary'}, id ? 'Save' : 'Create');

  const read = () => {
    if (!model.value.trim()) throw new Error('Model is required.');
    const body = {
      model: model.value.trim(),
      name: name.value.trim() || null,
      description: description.value.trim() || null,
      instructions: instructions.value || null,
    };
    if (temperature.value !== '') body.temperature = Number(temperature.value);
    else if (id) body.temperature = null;
    if (topP.value !== '') body.top_p = Number(topP.value);
    else if (id) body.top_p = null;
    if (format.value === 'json_schema') {
      const found = schema.problem();
      if (found) throw new Error(found);
      body.response_format = {type: 'json_schema', json_schema: parseJSON(schema.area.value, 'JSON schema')};
    } else if (format.value === 'auto') {
      body.response_format = 'auto';
    } else {
      body.response_format = {type: format.value};
    }
    const chosenTools = [];
    const toolResources = {};
    if (codeOn.checked) {
      chosenTools.push({type: 'code_interpreter'});
      toolResources.code_interpreter = {file_ids: [...codeList.querySelectorAll('input[name=ci-file]:checked')].map((box) => box.value)};
    }
    if (searchOn.checked) {
      chosenTools.push({type: 'file_search'});
      toolResources.file_search = {vector_store_ids: store.value ? [store.value] : []};
    }
    for (const box of functions.children) chosenTools.push(box.read());
    body.tools = chosenTools;
    body.tool_resources = toolResources;
    const found = metadata.problem();
    if (found) throw new Error(found);
    body.metadata = metadata.area.value.trim() ? parseJSON(metadata.area.value, 'Metadata') : {};
    return body;
  };

  const form = h('form', {class: 'card assistant-form', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    let body;
    try { body = read(); } catch (error) { problem.textContent = error.message; return; }
    save.disabled = true;
    try {
      const saved = id
        ? await ctx.api.post(`/assistants/${encodeURIComponent(id)}`, body)
        : await ctx.api.post('/assistants', body);
      ctx.status(`${id ? 'Saved' : 'Created'} ${saved.name || saved.id}.`);
      ctx.navigate('#/assistants');
    } catch (error) {
      problem.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  }},
  h('div', {class: 'grid2'}, field('Name', name), field('Model', model)),
  field('Description', description),
  field('Instructions', instructions),
  h('div', {class: 'grid2'},
    field('Temperature (0–2, empty: default)', temperature),
    field('top_p (0–1, empty: default)', topP)),
  field('Response format', format), schemaBox,
  h('h2', {}, 'Tools'),
  h('fieldset', {class: 'tool'}, h('legend', {}, 'Code interpreter'),
    h('div', {class: 'check'}, codeOn, h('label', {for: codeOn.id = 'tool-ci'}, 'Enable code_interpreter')),
    h('p', {class: 'muted'}, 'Files it can read:'), codeList),
  h('fieldset', {class: 'tool'}, h('legend', {}, 'File search'),
    h('div', {class: 'check'}, searchOn, h('label', {for: searchOn.id = 'tool-fs'}, 'Enable file_search')),
    field('Vector store', store)),
  functions,
  h('button', {type: 'button', onclick: () => addFunction(null)}, 'Add function'),
  h('h2', {}, 'Metadata'),
  field('Metadata (JSON object of strings)', metadata.area), metadata.note,
  problem,
  h('div', {class: 'actions'}, save, h('a', {class: 'button', href: '#/assistants'}, 'Cancel')));

  replace(root,
    h('div', {class: 'bar'}, h('h1', {}, id ? `Edit ${a.name || id}` : 'New assistant'), id ? h('span', {class: 'id'}, id) : null),
    form);
  (id ? name : model).focus();
}
