// The REST API client: the same requests any client makes, under /v1 of this origin.
// Identity is the user's API key, held in this module's memory (and in sessionStorage only when
// the user ticked "remember in this tab"); it goes in headers only, never in a URL or cookie.
// With the server's access token: Authorization carries the token and X-OpenAI-API-Key the key.

const BASE = '/v1';
const REMEMBER = 'oam-console-credentials';
const credentials = {key: '', token: ''};
const listeners = new Set();

export class APIError extends Error {
  constructor(message, status, code, param) {
    super(message);
    this.status = status;
    this.code = code || null;
    this.param = param || null;
  }
}

export function setCredentials({key, token = '', remember = false}) {
  credentials.key = String(key || '').trim();
  credentials.token = String(token || '').trim();
  if (remember) sessionStorage.setItem(REMEMBER, JSON.stringify(credentials));
  else sessionStorage.removeItem(REMEMBER);
  listeners.forEach((fn) => fn());
}

export function restoreCredentials() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(REMEMBER) || 'null');
    if (kept && kept.key) { credentials.key = kept.key; credentials.token = kept.token || ''; }
  } catch { sessionStorage.removeItem(REMEMBER); }
  return Boolean(credentials.key);
}

export function forgetCredentials() {
  credentials.key = '';
  credentials.token = '';
  sessionStorage.removeItem(REMEMBER);
  listeners.forEach((fn) => fn());
}

export function hasKey() { return Boolean(credentials.key); }
export function remembered() { return sessionStorage.getItem(REMEMBER) !== null; }
// The key's last four characters, to show which key is in use.
export function keyHint() { return credentials.key ? `…${credentials.key.slice(-4)}` : ''; }
export function onCredentials(fn) { listeners.add(fn); return () => listeners.delete(fn); }

export function headers(extra = {}) {
  const out = {'OpenAI-Beta': 'assistants=v2', ...extra};
  if (credentials.token) {
    out.Authorization = `Bearer ${credentials.token}`;
    if (credentials.key) out['X-OpenAI-API-Key'] = credentials.key;
  } else if (credentials.key) {
    out.Authorization = `Bearer ${credentials.key}`;
  }
  return out;
}

function oneLine(text) { return String(text).replace(/\s+/g, ' ').trim(); }

// OpenAI's error envelope {"error": {"message", "code", "param"}} -> one line.
function errorFrom(status, text) {
  let message = '';
  let code = null;
  let param = null;
  try {
    const body = JSON.parse(text);
    const error = body && body.error;
    if (error && typeof error === 'object') {
      message = error.message || '';
      code = error.code || null;
      param = error.param || null;
    }
  } catch { /* not JSON */ }
  if (!message) message = `The server answered ${status}${text ? `: ${text.slice(0, 200)}` : '.'}`;
  return new APIError(oneLine(message), status, code, param);
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, value);
  }
  const search = params.toString();
  return `${BASE}${path}${search ? `?${search}` : ''}`;
}

// The fetch Response itself (for streams: stream.js); errors thrown as APIError.
export async function raw(method, path, body, {query, accept = 'application/json', signal} = {}) {
  const init = {method, headers: headers({Accept: accept}), signal, credentials: 'omit', cache: 'no-store'};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new APIError(`Cannot reach the server: ${oneLine(error.message || error)}`, 0);
  }
  if (!response.ok) throw errorFrom(response.status, await response.text());
  return response;
}

async function json(method, path, body, options) {
  const response = await raw(method, path, body, options);
  return response.status === 204 ? null : response.json();
}

export const get = (path, query, options) => json('GET', path, undefined, {...options, query});
export const post = (path, body, options) => json('POST', path, body ?? {}, options);
export const del = (path, options) => json('DELETE', path, undefined, options);

// Every object of a list endpoint, following `after` (at most `max`).
export async function listAll(path, query = {}, max = 1000) {
  const items = [];
  let after;
  for (;;) {
    const page = await get(path, {limit: 100, ...query, after});
    items.push(...page.data);
    if (!page.has_more || !page.data.length || items.length >= max) return items;
    after = page.last_id || page.data[page.data.length - 1].id;
  }
}

// The bytes of a file (download), as a Blob.
export async function blob(path) {
  const response = await raw('GET', path, undefined, {accept: '*/*'});
  return response.blob();
}

// Multipart upload with progress: onProgress(sentBytes, totalBytes). Resolves to the JSON
// answer; rejects with an APIError.
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url(path));
    xhr.withCredentials = false;
    for (const [name, value] of Object.entries(headers({Accept: 'application/json'}))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      if (onProgress && event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try { resolve(JSON.parse(xhr.responseText)); } catch { reject(errorFrom(xhr.status, xhr.responseText)); }
      } else {
        reject(errorFrom(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new APIError('Cannot reach the server: the upload failed.', 0));
    xhr.send(form);
  });
}

export const api = {get, post, delete: del, raw, listAll, blob, upload, headers};
export default api;
