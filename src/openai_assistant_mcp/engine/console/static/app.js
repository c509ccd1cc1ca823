// The console's shell: hash router, navigation and the key prompt.
//
// File contract (also in docs/console.md):
//   index.html        the shell (no inline script or style: the CSP forbids both)
//   app.js            this file: router, nav, key prompt; pages are listed in PAGES below
//   api.js            the REST client: api.get/post/delete(path, body), listAll, blob,
//                     upload(path, form, onProgress), raw() for streams; errors are APIError
//                     with a one-line message from OpenAI's error envelope
//   dom.js            h(tag, attrs, ...children) (textContent/setAttribute only, never
//                     innerHTML), markdown(text) building DOM nodes, small helpers
//   style.css         shared styles
//   pages/assistants.js, pages/files.js, pages/stores.js        (console-a)
//   pages/playground.js, pages/inspector.js, stream.js, playground.css  (console-b)
// A page module exports `render(root, ctx)`; it may return a function called when the page is
// left (stop polling, abort streams). ctx = {api, params, query, navigate, status, refresh}:
// params are the route's segments after the page id (#/stores/vs_1 -> ['vs_1']), query its
// URLSearchParams (#/playground?assistant=asst_1).

import api, {forgetCredentials, hasKey, keyHint, remembered, restoreCredentials, setCredentials} from './api.js';
import {field, h, replace} from './dom.js';

const PAGES = [
  {id: 'assistants', title: 'Assistants', load: () => import('./pages/assistants.js')},
  {id: 'playground', title: 'Playground', load: () => import('./pages/playground.js')},
  {id: 'inspector', title: 'Runs', load: () => import('./pages/inspector.js')},
  {id: 'files', title: 'Files', load: () => import('./pages/files.js')},
  {id: 'stores', title: 'Vector stores', load: () => import('./pages/stores.js')},
];

const main = document.getElementById('page');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const statusLine = document.getElementById('status');
let leave = null;
let statusTimer = null;

export function status(message, kind = 'info') {
  clearTimeout(statusTimer);
  statusLine.textContent = message || '';
  statusLine.className = `status ${message ? 'shown' : ''} ${kind}`;
  if (message && kind !== 'error') statusTimer = setTimeout(() => status(''), 5000);
}

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const [id, ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return {id: id || PAGES[0].id, params, query: new URLSearchParams(search)};
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function drawNav(current) {
  replace(nav, h('ul', {}, PAGES.map((page) => h('li', {},
    h('a', {href: `#/${page.id}`, 'aria-current': page.id === current ? 'page' : null}, page.title)))));
  if (hasKey()) {
    replace(who,
      h('span', {class: 'muted', title: 'The API key in use (its last characters)'}, `Key ${keyHint()}`),
      h('button', {type: 'button', class: 'link', onclick: () => { forgetCredentials(); route(); }}, 'Change key'));
  } else {
    replace(who);
  }
}

function keyPrompt(message) {
  const key = h('input', {type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false'});
  const token = h('input', {type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false'});
  const remember = h('input', {type: 'checkbox', name: 'remember', checked: remembered()});
  const form = h('form', {class: 'card keyform', onsubmit: (event) => {
    event.preventDefault();
    if (!key.value.trim()) { status('Enter an API key.', 'error'); key.focus(); return; }
    setCredentials({key: key.value, token: token.value, remember: remember.checked});
    status('');
    route();
  }},
  h('h1', {}, 'Your API key'),
  h('p', {}, 'The console calls this server\'s Assistants API with your key, as any client does: '
    + 'your key is your tenant, and you see only its assistants, files and stores.'),
  message ? h('p', {class: 'error', role: 'alert'}, message) : null,
  field('API key', key, 'Sent in request headers only; never in a URL, a cookie or the server\'s logs.'),
  field('Access token (only if the server has one)', token, 'API_AUTH_TOKEN or MCP_AUTH_TOKEN of this server.'),
  h('div', {class: 'check'}, remember, h('label', {for: 'remember-key'}, 'Remember in this tab (sessionStorage, gone when the tab closes)')),
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Open the console')));
  remember.id = 'remember-key';
  replace(main, form);
  key.focus();
}

async function route() {
  if (leave) { try { leave(); } catch { /* the page is gone anyway */ } leave = null; }
  const {id, params, query} = parseHash();
  const page = PAGES.find((p) => p.id === id);
  drawNav(page ? page.id : null);
  if (!hasKey()) { keyPrompt(); return; }
  if (!page) {
    replace(main, h('div', {class: 'empty'}, h('p', {}, 'No such page.'), h('a', {href: '#/assistants'}, 'Go to assistants')));
    return;
  }
  document.title = `${page.title} · Assistants console`;
  replace(main, h('p', {class: 'muted'}, 'Loading…'));
  const root = h('section', {class: 'page', 'data-page': page.id});
  try {
    const module = await page.load();
    if (parseHash().id !== id) return; // navigated away meanwhile
    replace(main, root);
    const ctx = {api, params, query, navigate, status, refresh: route};
    const cleanup = await module.render(root, ctx);
    if (typeof cleanup === 'function') leave = cleanup;
  } catch (error) {
    if (error && error.code === 'invalid_access_token') { forgetCredentials(); keyPrompt(error.message); return; }
    replace(main, h('div', {class: 'empty'}, h('p', {class: 'error', role: 'alert'}, String(error && error.message ? error.message : error))));
  }
  if (document.activeElement === document.body) main.focus({preventScroll: true});
}

window.addEventListener('hashchange', route);
restoreCredentials();
route().then(() => {
  performance.mark('console-ready'); // bench/bench_console.py: time to interactive
  document.documentElement.dataset.ready = 'true';
});
