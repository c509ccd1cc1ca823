// What the playground and the run inspector both show: messages with their citations and
// images, tool calls, a run's status and why it ended. Everything from the API is untrusted
// and reaches the page through dom.js (text nodes, checked attributes), never as HTML.

import {h, markdown, replace} from './dom.js';

// The console's own styles for these pages, added once beside style.css (the CSP allows
// stylesheets of this origin only).
export function useStyles() {
  if (!document.querySelector('link[data-styles=playground]')) {
    document.head.appendChild(h('link', {rel: 'stylesheet', href: './playground.css', 'data-styles': 'playground'}));
  }
}

// Downloaded files (images, opened files) as Blobs with object URLs, freed when the page is
// left. The Blob is kept: the CSP's connect-src does not allow fetching blob: URLs back.
export class Blobs {
  constructor(api) {
    this.api = api;
    this.files = new Map();
  }

  get(fileId) {
    if (!this.files.has(fileId)) {
      this.files.set(fileId, this.api.blob(`/files/${encodeURIComponent(fileId)}/content`)
        .then((blob) => ({blob, url: URL.createObjectURL(blob)})));
    }
    return this.files.get(fileId);
  }

  async url(fileId) {
    return (await this.get(fileId)).url;
  }

  free() {
    for (const pending of this.files.values()) pending.then(({url}) => URL.revokeObjectURL(url), () => {});
    this.files.clear();
  }
}

// An image file of the API shown in an <img> (its bytes fetched with the key, as a blob).
export function imageOf(blobs, fileId, alt) {
  const img = h('img', {class: 'msg-image', alt: alt || `Image ${fileId}`, 'data-file-id': fileId});
  blobs.url(fileId).then((url) => { img.src = url; }, (error) => {
    img.replaceWith(h('p', {class: 'error'}, `Image ${fileId}: ${error.message}`));
  });
  return img;
}

// --- why a run ended, in plain words ---

const ERROR_WORDS = {
  server_error: 'The model provider or the engine failed',
  rate_limit_exceeded: 'The model provider refused: too many requests or tokens',
  invalid_prompt: 'The request to the model was refused',
  invalid_api_key: 'The model provider refused the API key',
};

const INCOMPLETE_WORDS = {
  max_completion_tokens: 'The answer reached the run\'s max_completion_tokens before it was finished.',
  max_prompt_tokens: 'The conversation no longer fit the run\'s max_prompt_tokens.',
};

// One sentence on how a run ended (null when it is not over or ended well).
export function runOutcome(run) {
  if (!run) return null;
  if (run.status === 'failed') {
    const error = run.last_error || {};
    const lead = ERROR_WORDS[error.code] || 'The run failed';
    return `${lead}${error.code ? ` (${error.code})` : ''}: ${error.message || 'no reason given.'}`;
  }
  if (run.status === 'incomplete') {
    const reason = run.incomplete_details && run.incomplete_details.reason;
    return INCOMPLETE_WORDS[reason] || `The run ended incomplete${reason ? ` (${reason})` : ''}.`;
  }
  if (run.status === 'expired') return 'The run expired: its tool outputs did not come before expires_at.';
  if (run.status === 'cancelled') return 'The run was cancelled.';
  return null;
}

export function badge(status) {
  return h('span', {class: `badge ${status || ''}`, 'data-status': status || ''}, status || '');
}

export function usageText(usage) {
  if (!usage) return '';
  return `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion = ${usage.total_tokens} tokens`;
}

export function seconds(from, to) {
  if (!from || !to) return '';
  return `${Math.max(0, to - from)} s`;
}

// --- messages ---

// Private-use characters around a citation's number while the text goes through Markdown, so
// the number can be found again in the built nodes (and model text cannot forge a link).
const OPEN = '\uE000';
const CLOSE = '\uE001';
const MARK = /\uE000(\d+)\uE001/g;

// A text part: Markdown, each annotation replaced by a numbered link to its source.
// `onCite(annotation, number)` opens a citation; returns {node, sources}.
export function textWithCitations(text, onCite) {
  const value = String(text.value || '');
  const annotations = (text.annotations || [])
    .filter((a) => Number.isInteger(a.start_index) && Number.isInteger(a.end_index) && a.end_index > a.start_index)
    .sort((a, b) => a.start_index - b.start_index);
  let marked = '';
  let at = 0;
  const cited = [];
  for (const annotation of annotations) {
    if (annotation.start_index < at) continue;
    marked += value.slice(at, annotation.start_index);
    cited.push(annotation);
    marked += `${OPEN}${cited.length}${CLOSE}`;
    at = annotation.end_index;
  }
  marked += value.slice(at);
  const node = markdown(marked);
  linkMarks(node, (number) => {
    const annotation = cited[number - 1];
    if (!annotation) return null;
    return citeLink(annotation, number, onCite);
  });
  return {node, cited};
}

function citeLink(annotation, number, onCite) {
  const label = annotation.type === 'file_path' ? `file ${number}` : `${number}`;
  return h('button', {type: 'button', class: 'cite', 'data-cite': number,
    title: annotation.text || '', onclick: () => onCite(annotation, number)}, `[${label}]`);
}

function linkMarks(root, make) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) if (walker.currentNode.nodeValue.includes(OPEN)) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    const parts = [];
    let at = 0;
    for (const match of text.matchAll(MARK)) {
      if (match.index > at) parts.push(document.createTextNode(text.slice(at, match.index)));
      parts.push(make(Number(match[1])) || document.createTextNode(match[0].replace(OPEN, '[').replace(CLOSE, ']')));
      at = match.index + match[0].length;
    }
    if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
    node.replaceWith(...parts);
  }
}

// The content parts of a message as nodes. `ctx`: {blobs, onCite}.
export function messageContent(message, ctx) {
  const nodes = [];
  for (const part of message.content || []) {
    if (part.type === 'text' && part.text) {
      nodes.push(textWithCitations(part.text, (annotation, number) => ctx.onCite(message, annotation, number)).node);
    } else if (part.type === 'image_file' && part.image_file) {
      nodes.push(imageOf(ctx.blobs, part.image_file.file_id, 'An image from the run'));
    } else if (part.type === 'image_url' && part.image_url) {
      // Not loaded: the CSP allows images of this origin only, and a URL can track the reader.
      nodes.push(h('p', {class: 'muted'}, 'Image by URL (not loaded): ', h('span', {class: 'id'}, part.image_url.url)));
    } else if (part.type === 'refusal') {
      nodes.push(h('p', {class: 'warn'}, 'Refused: ', String(part.refusal || '')));
    }
  }
  if (message.attachments && message.attachments.length) {
    nodes.push(h('p', {class: 'attachments muted'}, 'Attached: ',
      message.attachments.map((a, n) => [n ? ', ' : '', h('span', {class: 'id'}, a.file_id),
        ` (${(a.tools || []).map((t) => t.type).join(', ')})`])));
  }
  if (message.status === 'incomplete') {
    const reason = message.incomplete_details && message.incomplete_details.reason;
    nodes.push(h('p', {class: 'warn'}, `The message is incomplete${reason ? ` (${reason})` : ''}.`));
  }
  return nodes;
}

// --- tool calls ---

function pretty(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// One tool call (of a step's details) as a card. `blobs` shows code_interpreter images.
export function toolCall(call, blobs) {
  const kind = call.type;
  const card = h('div', {class: `tool tool-${kind}`, 'data-call-id': call.id || '', 'data-type': kind});
  const head = h('div', {class: 'bar'}, h('strong', {}, kind === 'function' ? `function ${(call.function || {}).name || ''}` : kind),
    h('span', {class: 'id'}, call.id || ''));
  card.appendChild(head);
  if (kind === 'function') {
    const fn = call.function || {};
    card.append(h('div', {class: 'label'}, 'Arguments'), h('pre', {class: 'args'}, pretty(fn.arguments || '')));
    if (fn.output !== null && fn.output !== undefined) {
      card.append(h('div', {class: 'label'}, 'Output'), h('pre', {class: 'output'}, String(fn.output)));
    } else {
      card.appendChild(h('p', {class: 'muted'}, 'No output yet.'));
    }
  } else if (kind === 'code_interpreter') {
    const ci = call.code_interpreter || {};
    card.append(h('div', {class: 'label'}, 'Code'), h('pre', {class: 'code'}, h('code', {'data-lang': 'python'}, ci.input || '')));
    for (const output of ci.outputs || []) {
      if (output.type === 'logs') {
        card.append(h('div', {class: 'label'}, 'Logs'), h('pre', {class: 'logs'}, String(output.logs || '')));
      } else if (output.type === 'image' && output.image) {
        card.append(h('div', {class: 'label'}, 'Image'), imageOf(blobs, output.image.file_id, 'An image the code made'));
      }
    }
  } else if (kind === 'file_search') {
    const fs = call.file_search || {};
    const ranking = fs.ranking_options;
    if (ranking) {
      card.appendChild(h('p', {class: 'muted'}, `Ranker ${ranking.ranker}, score threshold ${ranking.score_threshold}`));
    }
    const results = fs.results || [];
    if (!results.length) card.appendChild(h('p', {class: 'muted'}, 'No chunks found (or not shown yet).'));
    results.forEach((result, n) => {
      const text = (result.content || []).map((c) => c.text || '').join('\n');
      card.appendChild(h('div', {class: 'chunk', 'data-file-id': result.file_id},
        h('div', {class: 'bar'}, h('span', {}, `#${n + 1} `, h('span', {class: 'name'}, result.file_name || result.file_id)),
          h('span', {class: 'score'}, `score ${Number(result.score).toFixed(3)}`)),
        text ? h('pre', {}, text) : null));
    });
  }
  return card;
}

export function stepTools(step, blobs) {
  const details = step.step_details || {};
  if (details.type !== 'tool_calls') return [];
  return (details.tool_calls || []).map((call) => toolCall(call, blobs));
}

// Merges a run step delta's tool calls into `calls` (by index), as the stream sends them.
export function mergeToolCalls(calls, deltas) {
  for (const delta of deltas || []) {
    const index = Number.isInteger(delta.index) ? delta.index : calls.length;
    const call = calls[index] || (calls[index] = {type: delta.type});
    if (delta.id) call.id = delta.id;
    if (delta.type) call.type = delta.type;
    if (delta.function) {
      const fn = call.function || (call.function = {name: '', arguments: '', output: null});
      if (delta.function.name) fn.name = delta.function.name;
      if (delta.function.arguments) fn.arguments += delta.function.arguments;
      if (delta.function.output !== undefined && delta.function.output !== null) fn.output = delta.function.output;
    }
    if (delta.code_interpreter) {
      const ci = call.code_interpreter || (call.code_interpreter = {input: '', outputs: []});
      if (delta.code_interpreter.input) ci.input += delta.code_interpreter.input;
      for (const output of delta.code_interpreter.outputs || []) ci.outputs.push(output);
    }
    if (delta.file_search) {
      const fs = call.file_search || (call.file_search = {});
      Object.assign(fs, delta.file_search);
    }
  }
  return calls;
}

// A box showing an opened file: its name, a download link and, for text, its start.
export async function fileView(api, blobs, fileId, quote) {
  const box = h('div', {class: 'file-view card', 'data-file-id': fileId}, h('p', {class: 'muted'}, 'Opening the file…'));
  try {
    const [file, {blob, url}] = await Promise.all([api.get(`/files/${encodeURIComponent(fileId)}`), blobs.get(fileId)]);
    const name = file.filename || fileId;
    const parts = [
      h('div', {class: 'bar'}, h('strong', {class: 'name'}, name),
        h('a', {class: 'button download', href: url, download: name}, 'Download')),
    ];
    if (quote) parts.push(h('div', {class: 'label'}, 'Quoted passage'), h('blockquote', {class: 'quote'}, quote));
    if (/^text\/|json|xml|csv|markdown/.test(blob.type) || /\.(txt|md|csv|json|py|js|html?|xml|ya?ml)$/i.test(name)) {
      const text = await blob.slice(0, 64 * 1024).text();
      parts.push(h('div', {class: 'label'}, 'Start of the file'), h('pre', {class: 'file-text'}, text));
    } else if (/^image\//.test(blob.type)) {
      parts.push(h('img', {class: 'msg-image', src: url, alt: name}));
    }
    replace(box, parts);
  } catch (error) {
    replace(box, h('p', {class: 'error', role: 'alert'}, `Cannot open ${fileId}: ${error.message}`));
  }
  return box;
}

// The quoted chunk behind a file_citation: its marker 【call:result†name】 names the run's
// call-th built-in call (file_search and code_interpreter counted together, as the engine
// numbers them) and that call's result-th chunk (steps oldest first, with content).
export function quoteFor(annotation, steps) {
  const match = /^【(\d+):(\d+)†/.exec(annotation.text || '');
  if (!match) return null;
  const calls = [];
  for (const step of steps) {
    const details = step.step_details || {};
    for (const call of details.tool_calls || []) if (call.type !== 'function') calls.push(call);
  }
  const call = calls[Number(match[1])];
  const result = call && ((call.file_search || {}).results || [])[Number(match[2])];
  if (!result) return null;
  return (result.content || []).map((c) => c.text || '').join('\n') || null;
}

export const INCLUDE_CONTENT = 'step_details.tool_calls[*].file_search.results[*].content';
