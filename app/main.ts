/**
 * The monitoring page, served from `_design/monitor` (CouchApp style, no _show/_list/_rewrite):
 * session and login against `_session`, a hash router over the overview, failures and the
 * per-user and per-workflow drill-down, and live refreshes from the `_changes` longpoll feed.
 * After each complete render `body[data-rendered]` holds the kind of view, `data-route` the
 * hash it rendered and `data-renders` counts renders (tests and the page benchmark wait on them).
 * Every string from the database is rendered with d3's .text(), never as HTML.
 */
import { select } from 'd3';
import { Role } from '../views/schema';
import { basicSession, HttpError, login, logout, session, setToken, token, type Me } from './api';
import { renderUser } from './drill';
import { clear, route } from './dom';
import { renderFailures } from './failures';
import { renderLink } from './link';
import { LiveFeed, type LiveState } from './live';
import { prefetchOverview, renderOverview } from './overview';
import { renderWorkflow } from './workflow';

let me: Me | null = null;
let feed: LiveFeed | null = null;
let renders = 0;
let rendering: Promise<void> | null = null;
let again = false;

function showError(err: unknown): void {
  select('#error').text(err instanceof Error ? err.message : String(err));
}

function notify(text: string, refused: boolean): void {
  select('#notice').text(text).classed('refused', refused).classed('ok', !refused);
}

function parseRoute(): string[] {
  return (location.hash.replace(/^#\/?/, '') || '')
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
}

async function renderRoute(): Promise<void> {
  if (!me) return;
  const main = select<HTMLElement, unknown>('#view');
  const [page, a, b, c] = parseRoute();
  const hash = location.hash;
  select('nav')
    .selectAll('a')
    .classed('on', function () {
      const href = (this as HTMLAnchorElement).getAttribute('href') || '';
      return href === '#/' ? !page : page === 'user' ? href === route('user', a) : href === '#/' + (page || '');
    });
  if (page === 'user' && a && b !== undefined) await renderWorkflow(main, me, a, b, notify, refresh);
  else if (page === 'user' && a) await renderUser(main, me, a);
  else if (page === 'failures') await renderFailures(main, me, a ?? null, notify, refresh);
  else if (page === 'link' && a && b) await renderLink(main, me, a, b, c ?? null);
  else await renderOverview(main, me, refresh);
  select('#error').text('');
  renders++;
  document.body.dataset.rendered = page || 'overview';
  document.body.dataset.route = hash;
  document.body.dataset.renders = String(renders);
  if (renders === 1) document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
}

/** Renders the current route; a request while one runs queues exactly one more. */
function refresh(): void {
  if (rendering) {
    again = true;
    return;
  }
  rendering = renderRoute()
    .catch((err) => {
      if (err instanceof HttpError && err.status === 401)
        return void signedOut('Your session has ended: sign in again.');
      showError(err);
    })
    .finally(() => {
      rendering = null;
      if (again) {
        again = false;
        refresh();
      }
    });
}

function setLive(s: LiveState): void {
  select('#live')
    .attr('class', s)
    .text(s === 'live' ? '● live' : s === 'connecting' ? '○ connecting' : '● disconnected, retrying');
}

function signedOut(message = ''): void {
  me = null;
  // A notice is about the previous user's actions: it must not greet the next one.
  select('#notice').text('').classed('refused', false).classed('ok', false);
  feed?.stop();
  feed = null;
  setLive('disconnected');
  select('#live').text('○ signed out');
  clear('#view');
  select('#who').text('');
  select('#login').property('hidden', false);
  select('#token-login').property('hidden', false);
  select('#logout').property('hidden', true);
  select('nav').property('hidden', true);
  select('#error').text(message);
  delete document.body.dataset.rendered;
}

/**
 * Who is signed in: the session cookie, or else the Basic credentials the browser used to open the
 * page (its sign-in dialog, answering the server's challenge for index.html). The browser sends
 * those only under the page's own folder, so `_session` would say nobody and the page would ask
 * again; `_session?basic=true` challenges instead, the browser answers with the same credentials
 * (no dialog: they are cached for the realm) and from then on sends them with every request.
 * The first view's data is fetched only once someone is known: fetched before, its requests were
 * refused (401) for a page opened through the dialog.
 */
async function start(viaForm = false): Promise<void> {
  let ctx = await session();
  if (!ctx.name && !viaForm && !token()) ctx = await basicSession().catch(() => ctx);
  if (!ctx.name) return signedOut();
  if (!parseRoute()[0]) prefetchOverview();
  me = { name: ctx.name, roles: ctx.roles, ops: ctx.roles.includes(Role.ops) || ctx.roles.includes(Role.admin) };
  select('#who').text(`${me.name}${me.ops ? ' (operator)' : ''}`);
  select('#login').property('hidden', true);
  select('#token-login').property('hidden', true);
  select('#logout').property('hidden', false);
  select('nav').property('hidden', false);
  select('#mine').attr('href', route('user', me.name));
  feed = new LiveFeed(refresh, setLive);
  void feed.start();
  refresh();
}

select<HTMLFormElement, unknown>('#login').on('submit', async (event: SubmitEvent) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  try {
    await login(String(form.get('name') || ''), String(form.get('password') || ''));
    select('#error').text('');
    (event.target as HTMLFormElement).reset();
    await start(true);
  } catch (err) {
    select('#notice').text('').classed('refused', false).classed('ok', false);
    showError(err instanceof HttpError && err.status === 401 ? new Error('Name or password is incorrect.') : err);
  }
});

/**
 * A token pasted or handed to the user: the server checks it on `_session` (both engines answer
 * with the check that failed, e.g. `exp not in future`), and the page's requests carry it from then on.
 */
select<HTMLFormElement, unknown>('#token-login').on('submit', async (event: SubmitEvent) => {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const t = String(new FormData(form).get('token') || '').trim();
  setToken(t);
  try {
    const ctx = await session();
    if (!ctx.name) throw new HttpError(401, 'unauthorized', 'the token names no user');
    select('#error').text('');
    form.reset();
    await start(true);
  } catch (err) {
    setToken(null);
    select('#notice').text('').classed('refused', false).classed('ok', false);
    showError(err instanceof HttpError ? new Error(`Token refused: ${err.message}`) : err);
  }
});

select('#logout').on('click', async () => {
  const byToken = !!token();
  setToken(null);
  try {
    if (!byToken) await logout();
  } catch (err) {
    showError(err);
  }
  signedOut();
});

window.addEventListener('hashchange', () => {
  select('#notice').text('');
  refresh();
});
start().catch((err) => {
  // A token kept in this tab that the server no longer takes (expired): sign out, saying why.
  if (!token()) return showError(err);
  setToken(null);
  signedOut(err instanceof HttpError ? `Token refused: ${err.message}` : String(err));
});
