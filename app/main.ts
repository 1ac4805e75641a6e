/**
 * The monitoring page, served from `_design/monitor` (CouchApp style). It reads the monitor
 * views with relative URLs under the browser's CouchDB session. Every string from the database
 * is rendered with d3's .text(), never as HTML.
 */
import { format, select } from 'd3';
import { TRANSFER_STATES } from '../views/schema';

interface StatsRow { key: unknown[]; value: { count: number; sum: number } }

const bytes = format('.3~s');
const ddoc = '.'; // the page lives at /<db>/_design/monitor/index.html

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { credentials: 'same-origin', ...init });
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.reason || res.statusText), { status: res.status });
  return body as T;
}

function fill(table: string, rows: [string, number, number][]): void {
  select(table).select('tbody').selectAll('tr').data(rows).join('tr')
    .selectAll('td').data((r) => [r[0], String(r[1]), bytes(r[2]) + 'B']).join('td').text((d) => d);
}

async function refresh(): Promise<void> {
  const totals = await getJson<{ rows: StatsRow[] }>(`${ddoc}/_view/totals?group_level=1`);
  const byState = new Map(totals.rows.map((r) => [String(r.key[0]), r.value]));
  fill('#totals', TRANSFER_STATES.map((s) => [s, byState.get(s)?.count || 0, byState.get(s)?.sum || 0]));
  const users = await getJson<{ rows: StatsRow[] }>(`${ddoc}/_view/by_user?group_level=1`);
  fill('#users', users.rows.map((r) => [String(r.key[0]), r.value.count, r.value.sum]));
}

async function session(): Promise<void> {
  const s = await getJson<{ userCtx: { name: string | null } }>('/_session');
  const name = s.userCtx.name;
  select('#who').text(name ? `signed in as ${name}` : '');
  select('#login').property('hidden', !!name);
  select('#logout').property('hidden', !name);
  if (name) await refresh();
}

function showError(err: unknown): void {
  select('#error').text(err instanceof Error ? err.message : String(err));
}

select<HTMLFormElement, unknown>('#login').on('submit', async (event: SubmitEvent) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  try {
    await getJson('/_session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: form.get('name'), password: form.get('password') }),
    });
    select('#error').text('');
    await session();
  } catch (err) {
    showError(err);
  }
});

select('#logout').on('click', async () => {
  await fetch('/_session', { method: 'DELETE', credentials: 'same-origin' });
  await session();
});

session().catch(showError);
setInterval(() => { if (!select('#logout').property('hidden')) refresh().catch(showError); }, 5000);
