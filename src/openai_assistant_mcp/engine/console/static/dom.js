// Safe DOM building. Everything shown comes from the API (names, file names, metadata, model
// output) and is untrusted: it only ever reaches the page as text nodes (textContent) or
// attribute values (setAttribute). Nothing here uses innerHTML, insertAdjacentHTML or
// document.write, and URLs are limited to safe schemes.

const SAFE_URL = /^(https?:|blob:|#|\/|\.\/|data:image\/(png|jpeg|gif|webp);)/i;

export function safeUrl(value) {
  const text = String(value).trim();
  return SAFE_URL.test(text) ? text : null;
}

// h('button', {class: 'primary', onclick: fn, disabled: true}, 'Save')
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`h(): ${name} must be a function`);
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'style' || name === 'srcdoc') {
      throw new Error(`h(): ${name} is not allowed`);
    } else if (name === 'value' && 'value' in el) {
      el.value = String(value);
    } else if (name === 'checked' || name === 'selected') {
      el[name] = Boolean(value);
    } else if (name === 'href' || name === 'src' || name === 'action' || name === 'formaction') {
      const url = safeUrl(value);
      if (url !== null) el.setAttribute(name, url);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  return append(clear(el), children);
}

export function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function when(unixSeconds) {
  if (!unixSeconds) return '';
  return new Date(unixSeconds * 1000).toLocaleString();
}

// A short empty state: what is missing and what to do about it.
export function empty(text, ...actions) {
  return h('div', {class: 'empty'}, h('p', {}, text), actions);
}

// A delete button that asks once more ("Confirm delete") before it runs `remove`; a failure
// re-enables it and shows the API's message.
export function deleteButton(ctx, label, action, remove) {
  const button = h('button', {type: 'button', class: 'danger', 'data-action': action}, label);
  button.addEventListener('click', async () => {
    if (button.dataset.armed !== 'yes') {
      button.dataset.armed = 'yes';
      button.textContent = 'Confirm delete';
      return;
    }
    button.disabled = true;
    try {
      await remove();
    } catch (error) {
      button.disabled = false;
      ctx.status(error.message, 'error');
    }
  });
  return button;
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  input.id = id;
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    input,
    hint ? h('small', {class: 'hint'}, hint) : null);
}

// --- Markdown, built as DOM nodes (text always through text nodes; links http(s) only) ---

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|_[^_\n]+_)|(\[[^\]\n]+\]\([^)\s]+\))/;

export function inline(text) {
  const out = [];
  let rest = String(text);
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) { out.push(rest); break; }
    if (match.index) out.push(rest.slice(0, match.index));
    const token = match[0];
    if (match[1]) out.push(h('code', {}, token.slice(1, -1)));
    else if (match[2]) out.push(h('strong', {}, inline(token.slice(2, -2))));
    else if (match[3]) out.push(h('em', {}, inline(token.slice(1, -1))));
    else {
      const close = token.indexOf('](');
      const label = token.slice(1, close);
      const url = token.slice(close + 2, -1);
      if (/^https?:\/\//i.test(url)) {
        out.push(h('a', {href: url, rel: 'noopener noreferrer nofollow', target: '_blank'}, label));
      } else {
        out.push(token);
      }
    }
    rest = rest.slice(match.index + token.length);
  }
  return out;
}

export function markdown(text) {
  const root = h('div', {class: 'md'});
  const lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^```\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) { body.push(lines[i]); i += 1; }
      i += 1;
      const code = h('code', fence[1] ? {'data-lang': fence[1]} : {}, body.join('\n'));
      root.appendChild(h('pre', {}, code));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      root.appendChild(h(`h${Math.min(heading[1].length + 2, 6)}`, {}, inline(heading[2])));
      i += 1;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? 'ol' : 'ul', {});
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        list.appendChild(h('li', {}, inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))));
        i += 1;
      }
      root.appendChild(list);
      continue;
    }
    if (!line.trim()) { i += 1; continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) {
      para.push(lines[i]);
      i += 1;
    }
    const p = h('p', {});
    para.forEach((part, n) => { if (n) p.appendChild(h('br', {})); append(p, inline(part)); });
    root.appendChild(p);
  }
  return root;
}
