/** Entry of the dashboard bundle (scripts/build-web.mjs → dist/web/dashboard.js). */
import { render } from 'preact';
import { App } from './app';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
