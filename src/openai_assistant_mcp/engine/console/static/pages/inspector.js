// Run inspector: a run's steps with timings and usage; what file_search found (chunks and
// scores), what code_interpreter ran (code, logs, images), function arguments and outputs,
// and why the run ended, in plain words.
//
// Routes: #/inspector (your threads), #/inspector/<thread_id> (its runs),
// #/inspector/<thread_id>/<run_id> (one run).

import {empty, h, replace, when} from '../dom.js';
import {
  Blobs, INCLUDE_CONTENT, badge, messageContent, runOutcome, seconds, stepTools, usageText,
  useStyles, fileView, quoteFor,
} from '../render.js';

export async function render(root, ctx) {
  useStyles();
  const {api} = ctx;
  const blobs = new Blobs(api);
  const [threadId, runId] = ctx.params;
  if (runId) await showRun(root, api, blobs, threadId, runId);
  else if (threadId) await showRuns(root, api, threadId);
  else await showThreads(root, api);
  return () => blobs.free();
}

const enc = encodeURIComponent;

async function showThreads(root, api) {
  const page = await api.get('/x-threads', {limit: 50});
  root.appendChild(h('div', {class: 'bar'}, h('h1', {}, 'Runs')));
  if (!page.data.length) {
    root.appendChild(empty('No threads yet: runs happen on threads, made in the playground or by any client.',
      h('a', {href: '#/playground', class: 'button'}, 'Open the playground')));
    return;
  }
  root.appendChild(h('p', {class: 'muted'}, 'Pick a thread to see its runs.'));
  root.appendChild(h('table', {class: 'inspect-threads'},
    h('thead', {}, h('tr', {}, h('th', {}, 'Thread'), h('th', {}, 'Last message'), h('th', {}, 'Last run'))),
    h('tbody', {}, page.data.map((thread) => h('tr', {'data-thread-id': thread.id},
      h('td', {'data-label': 'Thread'}, h('a', {href: `#/inspector/${enc(thread.id)}`, class: 'id'}, thread.id)),
      h('td', {'data-label': 'Last message'}, thread.last_message ? (thread.last_message.preview || `(${thread.last_message.role})`) : h('span', {class: 'muted'}, 'none')),
      h('td', {'data-label': 'Last run'}, thread.last_run
        ? h('a', {href: `#/inspector/${enc(thread.id)}/${enc(thread.last_run.id)}`}, badge(thread.last_run.status), ' ', when(thread.last_run.created_at))
        : h('span', {class: 'muted'}, 'none')))))));
}

async function showRuns(root, api, threadId) {
  const runs = await api.listAll(`/threads/${enc(threadId)}/runs`, {order: 'desc'}, 200);
  root.appendChild(h('div', {class: 'bar'}, h('h1', {}, 'Runs of ', h('span', {class: 'id'}, threadId)),
    h('a', {class: 'button', href: `#/playground/${enc(threadId)}`}, 'Open in the playground')));
  if (!runs.length) {
    root.appendChild(empty('This thread has no runs yet.'));
    return;
  }
  root.appendChild(h('table', {class: 'runs'},
    h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'Status'), h('th', {}, 'Started'), h('th', {}, 'Took'), h('th', {}, 'Usage'))),
    h('tbody', {}, runs.map((run) => h('tr', {'data-run-id': run.id},
      h('td', {'data-label': 'Run'}, h('a', {class: 'id', href: `#/inspector/${enc(threadId)}/${enc(run.id)}`}, run.id)),
      h('td', {'data-label': 'Status'}, badge(run.status)),
      h('td', {'data-label': 'Started'}, when(run.started_at || run.created_at)),
      h('td', {'data-label': 'Took'}, seconds(run.started_at, endOf(run))),
      h('td', {'data-label': 'Usage'}, usageText(run.usage)))))));
}

function endOf(item) {
  return item.completed_at || item.failed_at || item.cancelled_at || item.expired_at || item.incomplete_at || null;
}

function facts(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]));
}

async function showRun(root, api, blobs, threadId, runId) {
  const base = `/threads/${enc(threadId)}/runs/${enc(runId)}`;
  const [run, steps] = await Promise.all([
    api.get(base),
    api.listAll(`${base}/steps`, {order: 'asc', 'include[]': INCLUDE_CONTENT}, 500),
  ]);
  const outcome = runOutcome(run);
  const viewer = h('div', {class: 'viewer'});
  root.append(
    h('div', {class: 'bar'}, h('h1', {}, 'Run ', h('span', {class: 'id run-id'}, run.id)),
      h('span', {class: 'row-actions'},
        h('a', {class: 'button', href: `#/inspector/${enc(threadId)}`}, 'All runs of the thread'),
        h('a', {class: 'button', href: `#/playground/${enc(threadId)}?assistant=${enc(run.assistant_id)}`}, 'Open in the playground'))),
    h('section', {class: 'card run-summary'},
      h('p', {}, badge(run.status)),
      outcome ? h('p', {class: `run-error ${run.status === 'cancelled' ? 'muted' : 'error'}`, role: 'alert'}, outcome) : null,
      facts([
        ['Assistant', h('span', {class: 'id'}, run.assistant_id)],
        ['Model', run.model],
        ['Created', when(run.created_at)],
        ['Started', when(run.started_at)],
        ['Ended', when(endOf(run))],
        ['Took', seconds(run.started_at, endOf(run))],
        ['Usage', usageText(run.usage)],
        ['Last error', run.last_error ? `${run.last_error.code}: ${run.last_error.message}` : null],
        ['Incomplete', run.incomplete_details ? run.incomplete_details.reason : null],
        ['Tools', (run.tools || []).map((t) => (t.type === 'function' ? `function ${t.function.name}` : t.type)).join(', ')],
      ])),
    h('h2', {}, `Steps (${steps.length})`));
  if (!steps.length) root.appendChild(empty('No steps: the run ended before the model answered.'));
  const onCite = async (message, annotation) => {
    const fileId = (annotation.file_citation || annotation.file_path || {}).file_id;
    if (!fileId) return;
    replace(viewer, await fileView(api, blobs, fileId, annotation.type === 'file_citation' ? quoteFor(annotation, steps) : null));
    viewer.scrollIntoView({block: 'nearest'});
  };
  for (const [n, step] of steps.entries()) {
    const card = h('section', {class: `card step step-${step.type}`, 'data-step-id': step.id},
      h('div', {class: 'bar'},
        h('h3', {}, `${n + 1}. ${step.type === 'tool_calls' ? 'Tool calls' : 'Message'}`),
        h('span', {}, badge(step.status))),
      facts([
        ['Step', h('span', {class: 'id'}, step.id)],
        ['Created', when(step.created_at)],
        ['Took', seconds(step.created_at, endOf(step))],
        ['Usage', usageText(step.usage)],
        ['Error', step.last_error ? `${step.last_error.code}: ${step.last_error.message}` : null],
      ]));
    if (step.type === 'tool_calls') {
      card.append(...stepTools(step, blobs));
    } else if (step.step_details && step.step_details.message_creation) {
      const messageId = step.step_details.message_creation.message_id;
      const body = h('div', {class: 'msg assistant', 'data-message-id': messageId}, h('p', {class: 'muted'}, 'Loading the message…'));
      card.appendChild(body);
      api.get(`/threads/${enc(threadId)}/messages/${enc(messageId)}`).then(
        (message) => replace(body, messageContent(message, {blobs, onCite})),
        (error) => replace(body, h('p', {class: 'error'}, error.message)));
    }
    root.appendChild(card);
  }
  root.appendChild(viewer);
}
