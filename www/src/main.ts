// Boot: the routes, writing pending data when the tab goes away, the service worker, and
// the first screen.

import './style.css';
import { warmUp } from './backend';
import { showAuth } from './screens/auth';
import { route } from './screens/shell';
import { sweepSessions } from './session';
import { showUpdateNotice, ui } from './ui';

addEventListener('hashchange', route);
addEventListener('pagehide', () => {
  if (ui.model) void ui.model.flushPending();
});
// Leaving the tab (e.g. for another tab that takes the account over, which closes it
// here at once): write the pending draft now.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && ui.model) void ui.model.flushPending();
});

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // A new service worker taking over a page an older one served: the page runs the old
  // code. Not on the first install (no controller yet when the page loaded).
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (hadController) showUpdateNotice();
  });
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
}

warmUp();
void sweepSessions().catch(() => undefined);
void showAuth();

