import {empty} from '../dom.js';

export function render(root) {
  root.appendChild(empty('This page is not built yet.'));
}
