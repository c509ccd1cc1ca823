// Playground: pick an assistant, start or reopen a thread, send messages (with attachments),
// watch the run stream live, answer function calls, cancel a run.
//
// Route: #/playground[/<thread_id>][?assistant=<asst_id>]. The run is streamed from the REST
// API (POST .../runs with stream: true, read by stream.js); everything shown from it goes
// through dom.js / render.js as text nodes.

import {empty, field, h, replace, when} from '../dom.js';
import {runEvents} from '../stream.js';
import {
  Blobs, INCLUDE_CONTENT, badge, fileView, mergeToolCalls, messageContent, quoteFor,
  runOutcome, stepTools, toolCall, usageText, useStyles,
} from '../render.js';

const THREAD_PAGE = 30;
const MAX_ATTACHMENTS = 10; // OpenAI's limit per message
const ACTIVE = new Set(['queued', 'in_progress', 'requires_action', 'cancelling']);

export async function render(root, ctx) {
  useStyles();
  const {api, status} = ctx;
  const blobs = new Blobs(api);
  const state = {
    threadId: ctx.params[0] || null,
    assistantId: ctx.query.get('assistant') || '',
    assistants: [],
    run: null,
    abort: null,
    steps: new Map(), // step id -> {el, calls}
    messages: new Map(), // message id -> {el, body, message}
    runSteps: new Map(), // run id -> steps with content, for citation quotes
    left: false,
  };

  // --- layout ---
  const assistantSelect = h('select', {id: 'pg-assistant', name: 'assistant'});
  const threadList = h('ul', {class: 'threads', 'aria-label': 'Your threads'});
  const moreThreads = h('button', {type: 'button', class: 'link more-threads', hidden: true}, 'More threads');
  const threadHead = h('div', {class: 'thread-head bar'});
  const messageList = h('div', {class: 'messages', 'aria-live': 'polite'});
  const runBox = h('div', {class: 'run-box'});
  const viewer = h('div', {class: 'viewer'});
  const text = h('textarea', {name: 'message', class: 'prose', rows: 3, placeholder: 'Write a message…', 'aria-label': 'Message'});
  const files = h('input', {type: 'file', name: 'attachments', multiple: true, 'aria-label': 'Attach files'});
  const forSearch = h('input', {type: 'checkbox', name: 'for-file-search', checked: true});
  const forCode = h('input', {type: 'checkbox', name: 'for-code-interpreter'});
  const sendButton = h('button', {type: 'submit', class: 'primary send'}, 'Send and run');
  const composer = h('form', {class: 'composer card', onsubmit: (event) => { event.preventDefault(); send(); }},
    text,
    h('div', {class: 'composer-row'},
      h('label', {class: 'attach'}, 'Attach ', files),
      h('span', {class: 'check'}, forSearch, h('label', {for: 'pg-fs'}, 'for file_search')),
      h('span', {class: 'check'}, forCode, h('label', {for: 'pg-ci'}, 'for code_interpreter')),
      sendButton));
  forSearch.id = 'pg-fs';
  forCode.id = 'pg-ci';
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); send(); }
  });

  replace(root,
    h('div', {class: 'playground'},
      h('aside', {class: 'side card'},
        field('Assistant', assistantSelect),
        h('div', {class: 'actions'}, h('button', {type: 'button', class: 'new-thread', onclick: newThread}, 'New thread')),
        h('h2', {}, 'Threads'), threadList, moreThreads),
      h('div', {class: 'chat'}, threadHead, messageList, runBox, composer, viewer)));

  assistantSelect.addEventListener('change', () => {
    state.assistantId = assistantSelect.value;
    rememberRoute();
  });

  // --- assistants and threads ---
  async function loadAssistants() {
    state.assistants = await api.listAll('/assistants', {order: 'desc'}, 500);
    if (!state.assistants.length) {
      replace(assistantSelect, h('option', {value: ''}, 'No assistants yet'));
      composer.hidden = true;
      replace(messageList, empty('Create an assistant first: the playground runs one on a thread.',
        h('a', {href: '#/assistants', class: 'button'}, 'Go to assistants')));
      return;
    }
    if (!state.assistants.some((a) => a.id === state.assistantId)) state.assistantId = state.assistants[0].id;
    replace(assistantSelect, state.assistants.map((a) =>
      h('option', {value: a.id, selected: a.id === state.assistantId}, `${a.name || '(unnamed)'} · ${a.model} · ${a.id}`)));
    const chosen = state.assistants.find((a) => a.id === state.assistantId);
    const tools = new Set(((chosen && chosen.tools) || []).map((t) => t.type));
    forCode.checked = tools.has('code_interpreter') && !tools.has('file_search');
    forSearch.checked = !forCode.checked;
  }

  let threadsAfter = null;
  async function loadThreads(append = false) {
    const page = await api.get('/x-threads', {limit: THREAD_PAGE, after: append ? threadsAfter : undefined});
    if (!append) replace(threadList);
    if (!append && !page.data.length) {
      threadList.appendChild(h('li', {class: 'muted no-threads'}, 'No threads yet: send a message to start one.'));
    }
    for (const thread of page.data) threadList.appendChild(threadItem(thread));
    threadsAfter = page.last_id;
    moreThreads.hidden = !page.has_more;
  }
  moreThreads.addEventListener('click', () => loadThreads(true).catch((e) => status(e.message, 'error')));

  function threadItem(thread) {
    const last = thread.last_message;
    const run = thread.last_run;
    const assistant = (run && run.assistant_id) || state.assistantId;
    return h('li', {'data-thread-id': thread.id},
      h('a', {class: 'thread', href: `#/playground/${encodeURIComponent(thread.id)}?assistant=${encodeURIComponent(assistant)}`,
        'aria-current': thread.id === state.threadId ? 'true' : null},
      h('span', {class: 'preview'}, last && last.preview ? last.preview : (last ? `(${last.role} message)` : '(empty thread)')),
      h('span', {class: 'meta'}, when(last ? last.created_at : thread.created_at),
        run ? [' · ', badge(run.status)] : null)));
  }

  function rememberRoute() {
    // The address follows the page without reloading it (replaceState fires no hashchange).
    const hash = `#/playground${state.threadId ? `/${encodeURIComponent(state.threadId)}` : ''}`
      + (state.assistantId ? `?assistant=${encodeURIComponent(state.assistantId)}` : '');
    history.replaceState(null, '', hash);
  }

  function newThread() {
    if (state.abort) return status('A run is streaming: cancel it or wait for it to end.', 'error');
    state.threadId = null;
    state.run = null;
    state.messages.clear();
    rememberRoute();
    showThread();
    for (const link of threadList.querySelectorAll('a[aria-current]')) link.removeAttribute('aria-current');
    text.focus();
  }

  function showThread() {
    replace(threadHead, state.threadId
      ? [h('span', {}, 'Thread ', h('span', {class: 'id thread-id'}, state.threadId))]
      : [h('span', {class: 'muted'}, 'A new thread starts with your first message.')]);
    replace(messageList);
    replace(runBox);
    replace(viewer);
    if (!state.threadId) messageList.appendChild(empty('No messages yet. Write one below and press “Send and run”.'));
  }

  // --- messages ---
  function messageEl(message) {
    const known = state.messages.get(message.id);
    if (known) return known;
    const body = h('div', {class: 'body'});
    const el = h('article', {class: `msg ${message.role}`, 'data-role': message.role, 'data-message-id': message.id},
      h('header', {}, h('strong', {}, message.role === 'user' ? 'You' : 'Assistant'),
        h('span', {class: 'muted'}, ` ${when(message.created_at)}`),
        message.run_id ? h('a', {class: 'run-link', href: `#/inspector/${encodeURIComponent(message.thread_id)}/${encodeURIComponent(message.run_id)}`}, 'inspect run') : null),
      body);
    const entry = {el, body, message, streamed: ''};
    state.messages.set(message.id, entry);
    const placeholder = messageList.querySelector('.empty');
    if (placeholder) placeholder.remove();
    messageList.appendChild(el);
    return entry;
  }

  function showMessage(message) {
    const entry = messageEl(message);
    entry.message = message;
    replace(entry.body, messageContent(message, {blobs, onCite: openCitation}));
    entry.el.scrollIntoView({block: 'nearest'});
  }

  async function openCitation(message, annotation) {
    const fileId = (annotation.file_citation || annotation.file_path || {}).file_id;
    if (!fileId) return;
    let quote = null;
    if (annotation.type === 'file_citation' && message.run_id) {
      try {
        if (!state.runSteps.has(message.run_id)) {
          state.runSteps.set(message.run_id, await api.listAll(
            `/threads/${encodeURIComponent(message.thread_id)}/runs/${encodeURIComponent(message.run_id)}/steps`,
            {order: 'asc', 'include[]': INCLUDE_CONTENT}, 200));
        }
        quote = quoteFor(annotation, state.runSteps.get(message.run_id));
      } catch { /* the quote is a bonus; the file still opens */ }
    }
    replace(viewer, await fileView(api, blobs, fileId, quote));
    viewer.scrollIntoView({block: 'nearest'});
  }

  async function loadMessages() {
    const messages = await api.listAll(`/threads/${encodeURIComponent(state.threadId)}/messages`, {order: 'asc'}, 500);
    replace(messageList);
    state.messages.clear();
    if (!messages.length) messageList.appendChild(empty('This thread has no messages yet.'));
    for (const message of messages) showMessage(message);
  }

  // --- the run ---
  const runHead = h('div', {class: 'bar run-head'});
  const liveTools = h('div', {class: 'live-tools'});
  const runMessage = h('div', {class: 'run-message'});

  function showRun(run) {
    state.run = run;
    if (!runHead.isConnected) replace(runBox, runHead, liveTools, runMessage);
    const active = ACTIVE.has(run.status);
    replace(runHead,
      h('span', {}, 'Run ', h('a', {class: 'id run-id', href: `#/inspector/${encodeURIComponent(run.thread_id)}/${encodeURIComponent(run.id)}`}, run.id), ' ',
        h('span', {class: 'run-status'}, badge(run.status))),
      run.usage ? h('span', {class: 'muted usage'}, usageText(run.usage)) : null,
      active ? h('button', {type: 'button', class: 'danger cancel-run', onclick: cancel}, 'Cancel run') : null);
    const outcome = runOutcome(run);
    replace(runMessage, outcome ? h('p', {class: `run-error ${run.status === 'cancelled' ? 'muted' : 'error'}`, role: 'alert'}, outcome) : null);
    if (run.status === 'requires_action') runMessage.appendChild(toolOutputsForm(run));
  }

  function toolOutputsForm(run) {
    const calls = (((run.required_action || {}).submit_tool_outputs || {}).tool_calls) || [];
    const inputs = [];
    const form = h('form', {class: 'tool-outputs card', onsubmit: (event) => {
      event.preventDefault();
      const outputs = inputs.map(({call, input}) => ({tool_call_id: call.id, output: input.value}));
      submitOutputs(run, outputs, form);
    }},
    h('h3', {}, `The run waits for ${calls.length === 1 ? 'the output of a function call' : `the outputs of ${calls.length} function calls`}`));
    for (const call of calls) {
      const input = h('textarea', {name: `output-${call.id}`, rows: 2, 'data-call-id': call.id, 'aria-label': `Output of ${call.function.name}`});
      inputs.push({call, input});
      form.appendChild(h('div', {class: 'pending-call', 'data-call-id': call.id},
        h('div', {class: 'bar'}, h('strong', {}, call.function.name), h('span', {class: 'id'}, call.id)),
        h('div', {class: 'label'}, 'Arguments'),
        h('pre', {class: 'args'}, prettyArgs(call.function.arguments)),
        field(`Output of ${call.function.name}`, input)));
    }
    form.appendChild(h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary submit-outputs'}, 'Submit outputs and continue')));
    setTimeout(() => { if (inputs[0]) inputs[0].input.focus(); }, 0);
    return form;
  }

  function prettyArgs(args) {
    try { return JSON.stringify(JSON.parse(args), null, 2); } catch { return String(args || ''); }
  }

  function stepEl(step) {
    let entry = state.steps.get(step.id);
    if (!entry) {
      entry = {el: h('div', {class: 'step', 'data-step-id': step.id}), calls: []};
      state.steps.set(step.id, entry);
      liveTools.appendChild(entry.el);
    }
    return entry;
  }

  function drawCalls(entry) {
    replace(entry.el, entry.calls.filter(Boolean).map((call) => toolCall(call, blobs)));
  }

  function onEvent({event, data}) {
    if (event.startsWith('thread.run.step.')) {
      if (event === 'thread.run.step.delta') {
        const entry = stepEl(data);
        const details = (data.delta || {}).step_details || {};
        if (details.type === 'tool_calls') {
          mergeToolCalls(entry.calls, details.tool_calls);
          drawCalls(entry);
        }
      } else if (data.type === 'tool_calls') {
        const entry = stepEl(data);
        if (event === 'thread.run.step.completed' || (data.step_details.tool_calls || []).length) {
          entry.calls = (data.step_details.tool_calls || []).slice();
          replace(entry.el, stepTools(data, blobs));
        }
      }
    } else if (event.startsWith('thread.run.')) {
      showRun(data);
    } else if (event === 'thread.message.delta') {
      const entry = state.messages.get(data.id);
      if (!entry) return;
      for (const part of (data.delta || {}).content || []) {
        if (part.type === 'text' && part.text && part.text.value) {
          entry.streamed += part.text.value;
          let live = entry.body.querySelector('.streaming');
          if (!live) { live = h('div', {class: 'streaming'}); replace(entry.body, live); }
          live.textContent = entry.streamed;
        } else if (part.type === 'image_file') {
          showMessageLater(data.id);
        }
      }
    } else if (event.startsWith('thread.message.')) {
      if (event === 'thread.message.created' || event === 'thread.message.completed' || event === 'thread.message.incomplete') {
        if (event === 'thread.message.created') messageEl(data);
        else showMessage(data);
      }
    } else if (event === 'error') {
      const message = (data && data.message) || String(data);
      replace(runMessage, h('p', {class: 'run-error error', role: 'alert'}, `The stream stopped: ${message}`));
    }
  }

  function showMessageLater(messageId) {
    api.get(`/threads/${encodeURIComponent(state.threadId)}/messages/${encodeURIComponent(messageId)}`)
      .then(showMessage, () => {});
  }

  async function consume(request) {
    const controller = new AbortController();
    state.abort = controller;
    setBusy(true);
    replace(liveTools);
    state.steps.clear();
    try {
      const response = await request(controller.signal);
      for await (const item of runEvents(response)) {
        if (state.left) return;
        onEvent(item);
      }
    } catch (error) {
      if (error && error.name === 'AbortError') return;
      status(error.message, 'error');
      replace(runBox, h('p', {class: 'run-error error', role: 'alert'}, error.message));
    } finally {
      state.abort = null;
      setBusy(false);
    }
    if (state.left) return;
    if (state.run && !ACTIVE.has(state.run.status)) {
      state.runSteps.delete(state.run.id);
      loadThreads().catch(() => {});
    }
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    sendButton.textContent = busy ? 'Running…' : 'Send and run';
  }

  function streamRun() {
    const path = `/threads/${encodeURIComponent(state.threadId)}/runs`;
    return consume((signal) => api.raw('POST', path, {assistant_id: state.assistantId, stream: true},
      {accept: 'text/event-stream', signal}));
  }

  async function submitOutputs(run, outputs, form) {
    for (const button of form.querySelectorAll('button')) button.disabled = true;
    const path = `/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}/submit_tool_outputs`;
    await consume((signal) => api.raw('POST', path, {tool_outputs: outputs, stream: true},
      {accept: 'text/event-stream', signal}));
  }

  async function cancel() {
    const run = state.run;
    if (!run) return;
    try {
      const path = `/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}`;
      status('Cancelling the run…');
      let answer = await api.post(`${path}/cancel`);
      // A stream reports the end itself (and may have already: never show an older state).
      // Without one (a reopened thread), the run is followed until it has ended.
      for (let polls = 0; !state.abort && !state.left && state.run && state.run.id === answer.id
        && ACTIVE.has(state.run.status); polls += 1) {
        showRun(answer);
        if (!ACTIVE.has(answer.status) || polls >= 120) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
        answer = await api.get(path);
      }
    } catch (error) {
      status(error.message, 'error');
    }
  }

  // A run this page did not start (another tab, another client) is followed by polling until
  // it has ended or waits for outputs; then the thread's messages are read again.
  async function follow(run) {
    const path = `/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}`;
    let current = run;
    while (!state.left && !state.abort && state.run && state.run.id === run.id && ACTIVE.has(current.status)
      && current.status !== 'requires_action') {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      try { current = await api.get(path); } catch { return; }
      if (state.left || state.abort || !state.run || state.run.id !== run.id) return;
      showRun(current);
    }
    if (!state.left && !ACTIVE.has(current.status)) {
      await loadMessages().catch(() => {});
      showRun(current);
    }
  }

  async function uploadAttachments() {
    const chosen = Array.from(files.files || []);
    if (chosen.length > MAX_ATTACHMENTS) throw new Error(`Attach at most ${MAX_ATTACHMENTS} files to one message.`);
    const tools = [];
    if (forSearch.checked) tools.push({type: 'file_search'});
    if (forCode.checked) tools.push({type: 'code_interpreter'});
    if (chosen.length && !tools.length) throw new Error('Choose what the attached files are for: file_search, code_interpreter or both.');
    const attachments = [];
    for (const [n, file] of chosen.entries()) {
      const form = new FormData();
      form.append('purpose', 'assistants');
      form.append('file', file, file.name);
      const made = await api.upload('/files', form, (sent, total) => {
        status(`Uploading ${file.name} (${n + 1}/${chosen.length}): ${Math.round((100 * sent) / total)}%`);
      });
      attachments.push({file_id: made.id, tools});
    }
    return attachments;
  }

  async function send() {
    if (state.abort) { status('A run is still streaming.', 'error'); return; }
    const content = text.value.trim();
    if (!content) { status('Write a message first.', 'error'); text.focus(); return; }
    if (!state.assistantId) { status('Pick an assistant first.', 'error'); return; }
    sendButton.disabled = true;
    try {
      const attachments = await uploadAttachments();
      if (!state.threadId) {
        const thread = await api.post('/threads', {});
        state.threadId = thread.id;
        rememberRoute();
        showThread();
      }
      const fields = {role: 'user', content};
      if (attachments.length) fields.attachments = attachments;
      const message = await api.post(`/threads/${encodeURIComponent(state.threadId)}/messages`, fields);
      showMessage(message);
      text.value = '';
      files.value = '';
      status('');
    } catch (error) {
      sendButton.disabled = false;
      status(error.message, 'error');
      return;
    }
    await streamRun();
    loadThreads().catch(() => {});
  }

  // --- start ---
  showThread();
  await loadAssistants();
  await loadThreads();
  if (state.threadId) {
    try {
      await loadMessages();
      const runs = await api.get(`/threads/${encodeURIComponent(state.threadId)}/runs`, {limit: 1});
      if (runs.data.length) {
        const run = runs.data[0];
        if (!ctx.query.get('assistant') && state.assistants.some((a) => a.id === run.assistant_id)) {
          state.assistantId = run.assistant_id;
          assistantSelect.value = run.assistant_id;
        }
        if (ACTIVE.has(run.status) || runOutcome(run)) showRun(run);
        if (run.status === 'queued' || run.status === 'in_progress' || run.status === 'cancelling') follow(run);
      }
    } catch (error) {
      state.threadId = null;
      showThread();
      replace(messageList, h('p', {class: 'error', role: 'alert'}, error.message));
    }
  }
  rememberRoute();

  return () => {
    state.left = true;
    if (state.abort) state.abort.abort();
    blobs.free();
  };
}
