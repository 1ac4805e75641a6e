/**
 * The monitoring page in headless chromium against the real server, a deployed test env seeded
 * with known documents, and a real stats agent process writing the roll-up. Pins down: the page
 * needs a session (401 with a challenge, in-page login and logout); the numbers shown equal the
 * views'; drill-down, paging and sorting; kill and retry change the documents and a user cannot
 * act on another user's files; live changes appear without reload and a lost feed shows; an LFN
 * holding <script> is shown as text. Screenshots of each view go to test-results/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';
import { startAgent, type AgentProcess } from '../support/agents';
import { seedTransfers, type SeedOptions } from '../../scripts/bench/monitor-seed';
import { MONITOR_STATS_ID, TRANSFER_STATES, type MonitorStatsDoc, type TransferDoc } from '../../views/schema';
import { eventually, launch, openAs, pageUrl, rendered, renders, shot, type Session } from './browser';

let env: TestEnv;
let browser: Browser;
let stats: AgentProcess;
let owner: string;
let other: string;
let seeded: TransferDoc[];
const XSS_LFN_PART = '<script>window.__xss=1<';

type Row = { key: unknown[]; value: { count: number; sum: number } };

async function viewRows(name: string, params: Record<string, unknown>): Promise<Row[]> {
  const res = await env.admin.use(env.dbs.transfers).view('monitor', name, params as never);
  return res.rows as unknown as Row[];
}

async function transferCount(): Promise<number> {
  return (await viewRows('totals', { group_level: 0 }))[0]?.value.count || 0;
}

/** Waits until the stats agent's roll-up has seen every transfer there is now. */
async function statsCaughtUp(): Promise<MonitorStatsDoc> {
  const want = await transferCount();
  return eventually(async () => {
    const doc = (await env.admin.use(env.dbs.transfers).get(MONITOR_STATS_ID)) as unknown as MonitorStatsDoc;
    return doc.transfers === want && (doc.states.new?.[0] || 0) === ((await viewRows('totals', { group_level: 1, key: ['new'] }))[0]?.value.count || 0) ? doc : null;
  }, 'the stats agent to catch up', 90_000);
}

async function cellInt(page: Page, selector: string): Promise<number> {
  return Number((await page.locator(selector).first().innerText()).replace(/[^0-9]/g, ''));
}

async function doc(id: string): Promise<TransferDoc> {
  return (await env.admin.use(env.dbs.transfers).get(id)) as unknown as TransferDoc;
}

beforeAll(async () => {
  env = await createTestEnv();
  owner = env.names.owner;
  other = env.names.other;
  const opts: SeedOptions = { users: [owner, other], n: 120, workflowsPerUser: 2, spreadSeconds: 3600, now: new Date() };
  seeded = await seedTransfers(env.admin.use(env.dbs.transfers), opts);
  // A job's own submission whose LFN holds markup.
  const xss = transferFixture(owner, { workflow: 'xss', source_lfn: `/store/temp/user/${owner}/xss/${XSS_LFN_PART}/script>.root` });
  await env.as('owner').use(env.dbs.transfers).insert(xss as never);
  stats = startAgent(env, 'stats');
  browser = await launch();
  await statsCaughtUp();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stats?.stop();
  await env?.cleanup();
});

describe('serving and session', () => {
  it('answers an anonymous browser with 401 and a Basic challenge, the page itself with Cookie', async () => {
    const res = await fetch(pageUrl(env));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const quiet = await fetch(pageUrl(env), { headers: { 'X-CouchDB-WWW-Authenticate': 'Cookie' } });
    expect(quiet.status).toBe(401);
    expect(quiet.headers.get('www-authenticate')).toBe('Cookie');
  });

  it('signs out and in again with the in-page form against _session', async () => {
    const s = await openAs(browser, env, owner);
    try {
      await rendered(s.page, 0, 'overview');
      await s.page.click('#logout');
      await s.page.locator('#login').waitFor({ state: 'visible' });
      expect(await s.page.evaluate(() => document.querySelectorAll('#view *').length)).toBe(0);
      await shot(s.page, 'login');
      await s.page.fill('#login input[name=name]', env.names.ops);
      await s.page.fill('#login input[name=password]', env.password);
      await s.page.click('#login button[type=submit]');
      await rendered(s.page, 0, 'overview');
      expect(await s.page.innerText('#who')).toBe(`${env.names.ops} (operator)`);
      expect(s.errors).toEqual([]);
    } finally {
      await s.context.close();
    }
  });
});

describe('overview and failures (operator)', () => {
  let s: Session;
  beforeAll(async () => {
    s = await openAs(browser, env, env.names.ops);
    await rendered(s.page, 0, 'overview');
  });
  afterAll(() => s.context.close());

  it('shows the state totals, links and publication the views give', async () => {
    await shot(s.page, 'overview');
    const totals = new Map((await viewRows('totals', { group_level: 1 })).map((r) => [r.key[0] as string, r.value.count]));
    for (const st of TRANSFER_STATES) {
      expect(await cellInt(s.page, `#states tr[data-key="${st}"] td[data-col=files]`)).toBe(totals.get(st) || 0);
    }
    expect([...totals.values()].reduce((a, b) => a + b, 0)).toBe(seeded.length + 1);
    const links = await viewRows('overview', { group_level: 4, startkey: ['link'], endkey: ['link', {}] });
    const done = new Map<string, number>();
    for (const r of links) if (r.key[3] === 'done') done.set(`${r.key[1]}->${r.key[2]}`, r.value.count);
    expect(done.size).toBeGreaterThan(1);
    for (const [link, n] of done) expect(await s.page.locator(`td[data-link="${link}"] .big`).innerText()).toBe(`${n} done`);
    const pub = new Map<string, number>();
    for (const r of await viewRows('overview', { group_level: 4, startkey: ['pub'], endkey: ['pub', {}] })) pub.set(r.key[3] as string, (pub.get(r.key[3] as string) || 0) + r.value.count);
    expect(pub.size).toBeGreaterThan(0);
    for (const [st, n] of pub) expect(await cellInt(s.page, `#publication tr[data-key="${st}"] td[data-col=files]`)).toBe(n);
    // Both users listed for an operator; agent health lists the stats agent's heartbeat.
    expect(await s.page.locator(`#users tr[data-key="${owner}"]`).count()).toBe(1);
    expect(await s.page.locator(`#users tr[data-key="${other}"]`).count()).toBe(1);
    expect(await s.page.locator('#agents td[data-col=agent]').allInnerTexts()).toContain('stats');
    // The time chart has bars for the seeded finished files.
    expect(await s.page.locator('#time svg rect.done').count()).toBeGreaterThan(0);
    await s.page.click('#time button[data-unit=hour]');
    await eventually(async () => (await s.page.locator('#time button[data-unit=hour].on').count()) === 1, 'hour view');
    expect(s.errors).toEqual([]);
  });

  it('lists failures by classified reason with the view counts, linking to the files', async () => {
    const before = await renders(s.page);
    await s.page.click('nav a[href="#/failures"]');
    await rendered(s.page, before, 'failures');
    await shot(s.page, 'failures');
    const reasons = await viewRows('overview', { group_level: 2, startkey: ['fail'], endkey: ['fail', {}] });
    expect(reasons.length).toBeGreaterThanOrEqual(4);
    for (const r of reasons) expect(await cellInt(s.page, `#reasons tr[data-key="${r.key[1]}"] td[data-col=files]`)).toBe(r.value.count);
    const before2 = await renders(s.page);
    await s.page.click('#reasons tr[data-key="checksum mismatch"] a');
    await rendered(s.page, before2, 'failures');
    const want = reasons.find((r) => r.key[1] === 'checksum mismatch')!.value.count;
    expect(await s.page.locator('#failed-files tbody tr').count()).toBe(want);
    for (const t of await s.page.locator('#failed-files td[data-col=reason]').allInnerTexts()) expect(t).toMatch(/checksum mismatch/);
    await shot(s.page, 'failures-checksum');
    expect(s.errors).toEqual([]);
  });

  it('updates the overview from the stats agent\'s roll-up without reload', async () => {
    const before = await renders(s.page);
    await s.page.click('nav a[href="#/"]');
    await rendered(s.page, before, 'overview');
    const n0 = await cellInt(s.page, '#states tr[data-key="new"] td[data-col=files]');
    await env.as('other').use(env.dbs.transfers).insert(transferFixture(other, { workflow: 'late' }) as never);
    await eventually(async () => (await cellInt(s.page, '#states tr[data-key="new"] td[data-col=files]')) === n0 + 1, 'the new file in the overview');
    const totals = (await viewRows('totals', { group_level: 1, key: ['new'] }))[0].value.count;
    expect(n0 + 1).toBe(totals);
    expect(s.errors).toEqual([]);
  });
});

describe('drill-down and actions (user)', () => {
  let s: Session;
  beforeAll(async () => {
    s = await openAs(browser, env, owner);
    await rendered(s.page, 0, 'overview');
  });
  afterAll(() => s.context.close());

  async function go(hash: string, route: string): Promise<void> {
    const before = await renders(s.page);
    await s.page.evaluate((h) => { location.hash = h; }, hash);
    await rendered(s.page, before, route);
    // A live refresh of the previous view may finish first: wait for this view's render.
    await s.page.waitForFunction((h) => document.body.dataset.route === h, hash, { timeout: 60_000 });
  }

  it('shows only the user\'s own row, and per workflow counts equal by_user', async () => {
    expect(await s.page.locator('#users tbody tr').count()).toBe(1);
    await go(`#/user/${owner}`, 'user');
    await shot(s.page, 'user');
    const rows = await viewRows('by_user', { group_level: 3, startkey: [owner], endkey: [owner, {}] });
    for (const r of rows) {
      const cell = s.page.locator(`#workflows tr[data-key="${r.key[1]}"] td[data-col="${r.key[2]}"]`);
      expect(Number(await cell.innerText())).toBe(r.value.count);
    }
    const pub = new Map<string, number>();
    for (const r of await viewRows('overview', { group_level: 4, startkey: ['pub', owner], endkey: ['pub', owner, {}] })) pub.set(r.key[3] as string, (pub.get(r.key[3] as string) || 0) + r.value.count);
    expect(pub.size).toBeGreaterThan(0);
    for (const [st, n] of pub) expect(await cellInt(s.page, `#publication tr[data-key="${st}"] td[data-col=files]`)).toBe(n);
  });

  it('pages and sorts a workflow\'s files', async () => {
    await go(`#/user/${owner}/wf0`, 'user');
    await shot(s.page, 'workflow');
    const total = seeded.filter((d) => d.user === owner && d.workflow === 'wf0').length;
    expect(total).toBe(30);
    const rowIds = () => s.page.locator('#files tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-key')!));
    // Each step waits for what it must show: a live refresh of the step before may land first.
    const first = await eventually(async () => (await s.page.innerText('#page')).includes(`page 1 of 2 (${total} files)`) && await rowIds(), 'page 1');
    expect(first.length).toBe(25);
    await s.page.click('#next');
    const second = await eventually(async () => (await s.page.innerText('#page')).includes('page 2 of 2') && await rowIds(), 'page 2');
    expect(second.length).toBe(5);
    expect(new Set([...first, ...second]).size).toBe(30);
    await s.page.click('#prev');
    await eventually(async () => (await s.page.innerText('#page')).includes('page 1 of 2'), 'back on page 1');
    const sizesShown = async () => (await rowIds()).map((id) => seeded.find((d) => d._id === id)!.size);
    const sorted = (xs: number[], dir: 1 | -1) => xs.every((x, i) => i === 0 || (x - xs[i - 1]) * dir >= 0);
    await s.page.click('#files th[data-col=size]');
    const up = await eventually(async () => (await s.page.innerText('#files th[data-col=size]')).includes('▲') && await sizesShown(), 'sorted by size');
    expect(up.length).toBe(25);
    expect(sorted(up, 1)).toBe(true);
    expect(sorted(up, -1)).toBe(false);
    await s.page.click('#files th[data-col=size]');
    const down = await eventually(async () => (await s.page.innerText('#files th[data-col=size]')).includes('▼') && await sizesShown(), 'sorted by size, descending');
    expect(sorted(down, -1)).toBe(true);
    expect(s.errors).toEqual([]);
  });

  /** Filters the files by state and waits until only such rows show (a live refresh may be in flight). */
  async function filter(state: string): Promise<void> {
    const before = await renders(s.page);
    await s.page.selectOption('#state-filter', state);
    await rendered(s.page, before);
    await eventually(async () => {
      const states = await s.page.locator('#files td[data-col=state]').allInnerTexts();
      return states.length > 0 && states.every((t) => !state || t.split(' ')[0] === state);
    }, `rows in state ${state || 'any'}`);
  }

  it('kills a pending file and retries a failed one of the user\'s own', async () => {
    await filter('new');
    const killId = (await s.page.locator('#files tbody tr').first().getAttribute('data-key'))!;
    await s.page.locator(`#files tr[data-key="${killId}"] button`).click();
    await eventually(async () => (await doc(killId)).kill_requested === true, 'kill_requested');
    await eventually(async () => /Kill: kill requested for 1 file/.test(await s.page.innerText('#notice')), 'kill notice');
    expect((await doc(killId)).user).toBe(owner);
    await filter('failed');
    const retryId = (await s.page.locator('#files tbody tr').first().getAttribute('data-key'))!;
    await s.page.locator(`#files tr[data-key="${retryId}"] button`).click();
    await eventually(async () => (await doc(retryId)).retry_requested === true, 'retry_requested');
    expect(await s.page.getAttribute('#notice', 'class')).toBe('ok');
    await shot(s.page, 'workflow-actions');
  });

  it('retries a whole workflow\'s failed files', async () => {
    await go(`#/user/${owner}/wf1`, 'user');
    const want = seeded.filter((d) => d.user === owner && d.workflow === 'wf1' && ['failed', 'killed', 'expired'].includes(d.state));
    expect(want.length).toBeGreaterThan(2);
    await s.page.click('#retry-workflow');
    await eventually(async () => {
      const docs = await Promise.all(want.map((d) => doc(d._id)));
      return docs.every((d) => d.retry_requested === true);
    }, 'retry_requested on the whole workflow');
    await eventually(async () => (await s.page.innerText('#notice')).includes(`retry requested for ${want.length} files`), 'the notice');
  });

  it('cannot kill another user\'s files: the refusal is shown and nothing changes', async () => {
    await go(`#/user/${other}/wf0`, 'user');
    await filter('new');
    const id = (await s.page.locator('#files tbody tr').first().getAttribute('data-key'))!;
    const rev = (await doc(id))._rev;
    await s.page.locator(`#files tr[data-key="${id}"] button`).click();
    await eventually(async () => (await s.page.getAttribute('#notice', 'class')) === 'refused', 'refusal shown');
    expect(await s.page.innerText('#notice')).toMatch(/Kill: refused for 1 file \(forbidden: /);
    await shot(s.page, 'refused');
    const after = await doc(id);
    expect(after._rev).toBe(rev);
    expect(after.kill_requested).toBeUndefined();
  });

  it('shows an LFN holding <script> as text', async () => {
    await go(`#/user/${owner}/xss`, 'user');
    const lfn = await s.page.locator('#files td[data-col=lfn]').first().innerText();
    expect(lfn).toContain(XSS_LFN_PART);
    expect(await s.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await s.page.locator('#view script').count()).toBe(0);
    expect(s.errors).toEqual([]);
  });

  it('shows a new transfer without reload, and a lost feed as disconnected', async () => {
    await go(`#/user/${owner}/wf0`, 'user');
    await filter('');
    await s.page.evaluate(() => { (window as unknown as { __marker: number }).__marker = 42; });
    const n0 = await cellInt(s.page, '#states tr[data-key="new"] td[data-col=files]');
    await env.as('owner').use(env.dbs.transfers).insert(transferFixture(owner, { workflow: 'wf0' }) as never);
    await eventually(async () => (await cellInt(s.page, '#states tr[data-key="new"] td[data-col=files]')) === n0 + 1, 'the new file on the page');
    expect(await s.page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
    expect(await s.page.getAttribute('#live', 'class')).toBe('live');
    // Cut the feed: the next poll fails and the header says so; restored, it goes live again.
    await s.page.route('**/_changes**', (r) => r.abort());
    await env.as('owner').use(env.dbs.transfers).insert(transferFixture(owner, { workflow: 'wf0' }) as never);
    await eventually(async () => (await s.page.getAttribute('#live', 'class')) === 'disconnected', 'disconnected indicator');
    expect(await s.page.innerText('#live')).toMatch(/disconnected/);
    await shot(s.page, 'disconnected');
    await s.page.unroute('**/_changes**');
    // Live again as soon as the server answers (a poll that does not wait), then the change made
    // while disconnected reaches the page.
    await eventually(async () => (await s.page.getAttribute('#live', 'class')) === 'live', 'live again', 30_000);
    await eventually(async () => (await cellInt(s.page, '#states tr[data-key="new"] td[data-col=files]')) === n0 + 2, 'the change made while disconnected');
    expect(s.errors.filter((e) => !/ERR_FAILED/.test(e))).toEqual([]);
  });
});
