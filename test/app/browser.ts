/**
 * Headless Debian chromium for the page tests, driven by playwright-core (no downloaded
 * browser). Flags per the env notes: no sandbox as root, no background networking (this
 * machine's closed network refuses it), a fresh profile per launch. Screenshots go to
 * test-results/screenshots/ (gitignored).
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestEnv } from '../support/env';
import { loadToolConfig } from '../../agents/platform/config';

export const CHROMIUM = loadToolConfig().chromiumPath;
export const SHOTS = path.resolve(__dirname, '..', '..', 'test-results', 'screenshots');

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function pageUrl(env: TestEnv, hash = ''): string {
  return `${env.baseUrl}/${env.dbs.transfers}/_design/monitor/index.html${hash}`;
}

export interface Session {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  readonly errors: string[];
}

/** A browser context signed in as `name` through `_session` (the cookie), on the page. */
export async function openAs(browser: Browser, env: TestEnv, name: string | null, hash = ''): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (name) {
    const res = await context.request.post(`${env.baseUrl}/_session`, { data: { name, password: env.password } });
    if (!res.ok()) throw new Error(`_session as ${name}: ${res.status()} ${await res.text()}`);
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pageUrl(env, hash));
  return { context, page, errors };
}

/** Waits for the next complete render after `before` renders (the page's body[data-renders]). */
export async function rendered(page: Page, before = 0, route?: string): Promise<number> {
  await page.waitForFunction(
    ([b, r]) =>
      Number(document.body.dataset.renders || 0) > (b as number) && (!r || document.body.dataset.rendered === r),
    [before, route ?? null] as const,
    { timeout: 60_000, polling: 100 },
  );
  return page.evaluate(() => Number(document.body.dataset.renders));
}

export async function renders(page: Page): Promise<number> {
  return page.evaluate(() => Number(document.body.dataset.renders || 0));
}

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

/** Polls `fn` until it returns a truthy value (generous: the machine is shared and slow). */
export async function eventually<T>(
  fn: () => Promise<T | null | undefined | false>,
  what: string,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ': ' + String(last) : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
