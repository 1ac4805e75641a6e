/**
 * The page's token sign-in in headless chromium against the real server (embedded or CouchDB
 * 3.4.3): a pasted token of the test issuer (test/support/issuer.ts) signs the page in as its
 * `sub`, every request of the page then carries it, an expired one is refused with the server's
 * reason, and signing out forgets it.
 */
import type { Browser } from 'playwright-core';
import { Role } from '../../views/schema';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';
import { claimsFor, sign, tokenFor } from '../support/issuer';
import { launch, openAs, rendered, shot } from './browser';

let env: TestEnv;
let browser: Browser;

beforeAll(async () => {
  env = await createTestEnv();
  await env
    .as('other')
    .use(env.dbs.transfers)
    .insert(transferFixture(env.names.other) as never);
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

it('signs in by a pasted token as its sub, sends it on every request, and forgets it on sign-out', async () => {
  // The page's files are the database's: a browser opens it signed in, then signs out to use a token.
  const s = await openAs(browser, env, env.names.owner);
  try {
    await rendered(s.page, 0, 'overview');
    await s.page.click('#logout');
    await s.page.locator('#token-login').waitFor({ state: 'visible' });
    const bearer: string[] = [];

    s.page.on('request', (r) => {
      const h = r.headers().authorization;
      if (h?.startsWith('Bearer ')) bearer.push(r.url());
    });
    await s.page.fill('#token-login input[name=token]', await tokenFor(env.names.other, [Role.user]));
    await s.page.click('#token-login button[type=submit]');
    await rendered(s.page, 0, 'overview');
    expect(await s.page.innerText('#who')).toBe(env.names.other);
    expect(bearer.some((u) => u.includes('/_session'))).toBe(true);
    expect(bearer.some((u) => u.includes('/_view/'))).toBe(true);
    await shot(s.page, 'token-login');
    await s.page.click('#logout');
    await s.page.locator('#token-login').waitFor({ state: 'visible' });
    expect(await s.page.evaluate(() => sessionStorage.getItem('couchstage-token'))).toBeNull();
    // 404: the stats roll-up, which no stats agent writes in this test; 401: the signed-out page.
    expect(s.errors.filter((e) => !/status of (401|404)/.test(e))).toEqual([]);
  } finally {
    await s.context.close();
  }
});

it('refuses an expired token with the server’s reason and stays signed out', async () => {
  const s = await openAs(browser, env, env.names.owner);
  try {
    await rendered(s.page, 0, 'overview');
    await s.page.click('#logout');
    await s.page.locator('#token-login').waitFor({ state: 'visible' });
    const expired = await sign({ ...claimsFor(env.names.other, [Role.user]), exp: Math.floor(Date.now() / 1000) - 60 });
    await s.page.fill('#token-login input[name=token]', expired);
    await s.page.click('#token-login button[type=submit]');
    await s.page.waitForFunction(() => /Token refused/.test(document.querySelector('#error')?.textContent || ''));
    expect(await s.page.innerText('#error')).toBe('Token refused: exp not in future');
    expect(await s.page.isVisible('#token-login')).toBe(true);
    expect(await s.page.evaluate(() => sessionStorage.getItem('couchstage-token'))).toBeNull();
  } finally {
    await s.context.close();
  }
});
