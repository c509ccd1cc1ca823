// Placeholder: console-b replaces this file with the inspector page.
import {empty} from '../dom.js';

export function render(root) {
  root.appendChild(empty('This page is not built yet.'));
}
