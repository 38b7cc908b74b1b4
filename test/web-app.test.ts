import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page, type Request } from 'playwright-core';
import { APP_CSP, WEB_APP_DIR, webRoutes } from '../src/http/routes/web.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { startTestServer } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUTPUT = join(ROOT, 'test-output');
const DATABASE = process.env.TEST_DATABASE ?? 'sqlite';
const TOML = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 20\n[agent]\napproval_timeout_s = 600';
const PASSWORD = 'correct horse battery';

/** Debian's Chromium (`apt-get install -y chromium`); a browser is never downloaded. */
function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('Chromium is required for the web app tests: apt-get install -y chromium (it must be on PATH as `chromium`)');
  }
}

/** Distinct numbered words: a gap or a repeat anywhere shows in the text. */
const numberedWords = (count: number) => Array.from({ length: count }, (_, index) => `w${index + 1}`).join(' ');

describe('web app at / in a real browser (Chromium through Playwright)', () => {
  let browser: Browser;
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let email = '';

  before(async () => {
    assert.ok(existsSync(join(WEB_APP_DIR, 'index.html')), 'dist/web is missing: run `npm run build` (it builds the web app too)');
    mkdirSync(OUTPUT, { recursive: true });
    fake = await startFakeOpenAI();
    server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${TOML}` });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.shutdown();
    await fake?.close();
  });

  async function newPage(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page; streams: Request[] }> {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 860 }, ...options });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
    // The app runs under its own CSP: a violation would be a part of the app that does not work.
    // Inline event handlers are the exception: the app has none (listeners are attached in code),
    // so a blocked one is hostile model output, blocked while the sanitiser parses it.
    page.on('console', (message) => {
      const text = message.text();
      if (message.type() === 'error' && /Content Security Policy/i.test(text) && !/inline event handler/i.test(text)) pageErrors.push(text);
    });
    const streams: Request[] = [];
    page.on('request', (request) => {
      if (/\/api\/v1\/sessions\/[^/]+\/stream\?/.test(request.url())) streams.push(request);
    });
    return { context, page, streams };
  }

  const screenshot = (page: Page, name: string) => page.screenshot({ path: join(OUTPUT, `web-${name}-${DATABASE}.png`), fullPage: false });

  async function signUp(page: Page): Promise<void> {
    email = `web${process.pid}-${Date.now()}@example.com`;
    await page.goto('/');
    await page.waitForURL('**/sign-in');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function newSession(page: Page, title: string): Promise<string> {
    const form = page.getByRole('form', { name: 'New session' });
    const menu = page.getByRole('button', { name: 'Sessions menu' });
    // Right after sign-in the shell may still be rendering: wait for the form (wide) or the menu (phone width).
    await Promise.race([form.waitFor(), menu.waitFor()].map((waiting) => waiting.catch(() => {})));
    if (!(await form.isVisible())) await menu.click();
    await form.getByLabel('Title').fill(title);
    await form.getByRole('button', { name: 'New session' }).click();
    await page.waitForURL('**/sessions/*');
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
    await page.locator('.connection-open').waitFor();
    return page.url().split('/sessions/')[1]!;
  }

  async function send(page: Page, text: string): Promise<void> {
    const box = page.getByLabel('Message');
    await box.fill(text);
    await box.press('Enter');
  }

  const lastTurn = (page: Page) => page.locator('article.turn').last();
  const lastAnswer = (page: Page) => lastTurn(page).locator('[data-role="answer"]').last();
  const waitForTurn = (page: Page, state: string, timeout = 20_000) => page.locator(`article.turn[data-state="${state}"]`).last().waitFor({ timeout });
  /** The rendered answer's text, whitespace as a reader sees it. */
  const answerText = async (page: Page) => (await lastAnswer(page).innerText()).replace(/\s+/g, ' ').trim();
  const waitForAnswerText = (page: Page, fragment: string) =>
    page.waitForFunction((text) => [...document.querySelectorAll('[data-role="answer"]')].some((element) => element.textContent?.includes(text)), fragment);

  test('the server serves the app: index.html with a CSP, hashed assets cached for a year, app paths, JSON 404s elsewhere', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('content-security-policy'), APP_CSP);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script (the CSP forbids it)');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const script = await fetch(`${server.url}${asset}`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
    for (const path of ['/sign-in', '/sign-up', '/workspaces/x', '/sessions/abc']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(await response.text(), html, path);
    }
    for (const path of ['/api/v1/nope', '/api/nope', '/mcp/nope', '/docs/nope/deeper', '/metrics/x', '/assets/missing.js', '/nope', '/sessions/a/b']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.match(response.headers.get('content-type') ?? '', /json/, path);
    }
    assert.equal((await fetch(`${server.url}/assets/..%2f..%2fpackage.json`)).status, 403);

    // Only `tsc` was run: the page says how to build the app, and the API is unaffected.
    const bare = Fastify();
    await bare.register(async (web) => webRoutes(web, { root: join(OUTPUT, 'no-such-dir') }));
    const missing = await bare.inject({ method: 'GET', url: '/' });
    assert.equal(missing.statusCode, 503);
    assert.match(missing.body, /npm run build/);
    await bare.close();
  });

  test('sign up, send a message with Enter: the streamed answer appears as Markdown, exactly', async () => {
    const { page } = await newPage();
    await signUp(page);
    assert.ok(await page.evaluate(() => localStorage.getItem('tokendance.auth')), 'the login is kept in localStorage');
    await newSession(page, 'First chat');
    const text = `Here is the answer, word by word: ${numberedWords(40)}.`;
    fake.enqueue({ text, tokenDelayMs: 5 });
    await send(page, 'say something');
    await waitForTurn(page, 'completed');
    assert.equal(await answerText(page), text);
    assert.equal(await lastTurn(page).locator('.user-message p').innerText(), 'say something');

    // Markdown, sanitised, with a highlighted code block.
    fake.enqueue({ text: '# Result\n\nSome **bold** text <img src=x onerror="window.hacked=1">.\n\n```js\nconst answer = 42;\n```\n' });
    await send(page, 'markdown please');
    await waitForTurn(page, 'completed');
    const answer = lastAnswer(page);
    assert.equal(await answer.locator('h1').innerText(), 'Result');
    assert.equal(await answer.locator('strong').innerText(), 'bold');
    assert.equal(await answer.locator('pre code.hljs .hljs-keyword').first().innerText(), 'const');
    assert.equal(await page.evaluate(() => (window as any).hacked), undefined);
    assert.equal(await answer.locator('[onerror]').count(), 0);
    await page.getByRole('link', { name: /First chat/ }).waitFor();
    await screenshot(page, 'chat');
    assert.deepEqual(pageErrors, []);
  });

  test('a file_delete approval: the dialog shows (also after a reload), Approve runs it, the run finishes', async () => {
    const { page } = await newPage();
    await signIn(page);
    const sessionId = await newSession(page, 'Approvals');
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'notes.txt', content: 'hello' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'notes.txt' } }] },
      { text: 'The file is deleted.' },
    );
    await send(page, 'write notes.txt then delete it');
    let dialog = page.getByRole('dialog', { name: 'Approve file_delete?' });
    await dialog.waitFor();
    const file = join(server.environment.dir, 'data', 'workspaces', sessionId, 'notes.txt');
    assert.ok(existsSync(file), 'nothing is deleted before the answer');

    // A pending approval shows when the page opens, too.
    await page.reload();
    dialog = page.getByRole('dialog', { name: 'Approve file_delete?' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /notes\.txt/);
    assert.equal(await dialog.locator('.risk').innerText(), 'high');
    assert.match(await dialog.innerText(), /Expires\s+in \d+:\d\d/);
    assert.ok(await page.evaluate(() => document.activeElement?.closest('dialog') !== null), 'focus is inside the dialog');
    await screenshot(page, 'approval');
    // Escape puts the decision off; the banner brings the dialog back.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Review' }).click();
    await dialog.waitFor();
    await dialog.getByLabel(/Feedback/).fill('fine, go ahead');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer-input', 'focus returns to the page');

    await waitForTurn(page, 'completed');
    assert.equal(await answerText(page), 'The file is deleted.');
    assert.equal(existsSync(file), false, 'the approved tool ran');
    const cards = lastTurn(page).locator('.tool-card');
    assert.equal(await cards.count(), 2);
    assert.equal(await cards.nth(1).getAttribute('data-tool'), 'file_delete');
    assert.match(await cards.nth(1).locator('summary').innerText(), /done/);
    assert.match(await cards.nth(1).locator('summary').innerText(), /approved/);
    const lastRequest = fake.requests.at(-1)!.body.messages.filter((message: any) => message.role === 'tool').at(-1);
    assert.match(String(lastRequest.content), /fine, go ahead/, 'the feedback reached the model');
    assert.deepEqual(pageErrors, []);
  });

  test('working memory and files: the panel follows the run, and a file downloads with the login', async () => {
    const { page } = await newPage();
    await signIn(page);
    await newSession(page, 'Memory');
    fake.enqueue(
      { toolCalls: [{ name: 'plan_update', arguments: { content: '# Plan\n- [x] look around\n- [ ] write the report' } }] },
      { toolCalls: [{ name: 'file_write', arguments: { path: 'report.md', content: '# Report\nAll good.\n' } }] },
      { text: 'The report is in **report.md**.' },
    );
    await send(page, 'plan, then write a report');
    await waitForTurn(page, 'completed');
    const plan = page.locator('details.memory-file[data-file="plan"]');
    await plan.locator('li', { hasText: 'write the report' }).waitFor();
    assert.match(await plan.locator('summary').innerText(), /v1/);
    const link = page.getByRole('link', { name: 'report.md' });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'report.md');
    const saved = join(OUTPUT, `report-${DATABASE}.md`);
    await download.saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), '# Report\nAll good.\n');
    const cards = lastTurn(page).locator('.tool-card');
    assert.deepEqual(await cards.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-tool'))), ['plan_update', 'file_write']);
    await cards.nth(1).locator('summary').click();
    assert.match(await cards.nth(1).locator('.tool-args').innerText(), /"path": "report.md"/);
    assert.match(await cards.nth(1).locator('summary').innerText(), /\d+ ms|\d+\.\d s/);
    await screenshot(page, 'memory');
    assert.deepEqual(pageErrors, []);
  });

  test('offline mid-answer, then back: the final text is the model text exactly once', async () => {
    const { context, page, streams } = await newPage();
    await signIn(page);
    await newSession(page, 'Offline');
    const text = numberedWords(160);
    fake.enqueue({ text, tokenDelayMs: 20 });
    await send(page, 'a long answer please');
    await waitForAnswerText(page, 'w30 ');
    const before = streams.length;
    await context.setOffline(true);
    await page.locator('.connection-offline, .connection-reconnecting').waitFor();
    // The model goes on while the page is offline.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await context.setOffline(false);
    await waitForTurn(page, 'completed');
    assert.equal(await answerText(page), text);
    const resumed = streams.slice(before).map((request) => new URL(request.url()).searchParams);
    assert.ok(resumed.some((query) => Number(query.get('last_event_id')) > 0), 'the stream reopened with its cursor');
    await screenshot(page, 'offline');
    assert.deepEqual(pageErrors, []);
  });

  test('reload mid-answer: the answer is rebuilt, no gap and no repeat', async () => {
    const { page, streams } = await newPage();
    await signIn(page);
    const sessionId = await newSession(page, 'Reload');
    const text = numberedWords(160);
    fake.enqueue({ reasoning: 'Let me count slowly.', text, tokenDelayMs: 20 });
    await send(page, 'count for me');
    await waitForAnswerText(page, 'w30 ');
    const before = streams.length;
    await page.reload();
    await waitForTurn(page, 'completed');
    assert.equal(await answerText(page), text);
    assert.equal(await lastTurn(page).locator('.user-message p').innerText(), 'count for me');
    assert.equal(await lastTurn(page).locator('details.thinking').count(), 1);
    assert.ok(new URL(streams[before]!.url()).searchParams.has('last_event_id'), 'the reloaded page replays the live run from its cursor');

    // Opened afresh when finished: the stored messages show the same answer.
    await page.goto(`/sessions/${sessionId}`);
    await lastAnswer(page).waitFor();
    assert.equal(await answerText(page), text);
    await screenshot(page, 'reload');
    assert.deepEqual(pageErrors, []);
  });

  test('stop ends the run in progress', async () => {
    const { page } = await newPage();
    await signIn(page);
    await newSession(page, 'Stop');
    fake.enqueue({ text: numberedWords(300), tokenDelayMs: 20 });
    await send(page, 'go on and on');
    await waitForAnswerText(page, 'w10 ');
    await page.getByRole('button', { name: 'Stop' }).click();
    await waitForTurn(page, 'cancelled');
    await page.getByRole('button', { name: 'Send' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('an expired access token is refreshed; sign out ends the login', async () => {
    const { page } = await newPage();
    await signIn(page);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('tokendance.auth')!));
    await page.evaluate((auth) => localStorage.setItem('tokendance.auth', JSON.stringify({ ...auth, accessToken: 'expired.token.value' })), stored);
    await page.reload();
    await page.getByRole('link', { name: /First chat/ }).waitFor();
    const refreshed = await page.evaluate(() => JSON.parse(localStorage.getItem('tokendance.auth')!));
    assert.notEqual(refreshed.refreshToken, stored.refreshToken, 'the refresh token was rotated');
    assert.notEqual(refreshed.accessToken, 'expired.token.value');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
    assert.equal(await page.evaluate(() => localStorage.getItem('tokendance.auth')), null);
    const reuse = await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshed.refreshToken } });
    assert.equal(reuse.status, 401, 'the server revoked the login');
    assert.deepEqual(pageErrors, []);
  });

  test('phone width: no horizontal scroll, the sidebar is a menu', async () => {
    const { page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(page);
    await newSession(page, 'Phone');
    fake.enqueue({ text: `A long line: ${'x'.repeat(300)}\n\n\`\`\`\n${'code '.repeat(60)}\n\`\`\`\n\n| a | b |\n| - | - |\n| ${'y'.repeat(200)} | z |\n` });
    await send(page, 'narrow');
    await waitForTurn(page, 'completed');
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(width.scroll <= width.client, `no horizontal scroll (${width.scroll} > ${width.client})`);
    assert.equal(await page.getByRole('navigation', { name: 'Sessions' }).isVisible(), false, 'the sidebar is folded away');
    await screenshot(page, 'phone');
    await page.getByRole('button', { name: 'Sessions menu' }).click();
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('dark theme from the system, and a toggle that is remembered', async () => {
    const { page } = await newPage({ colorScheme: 'dark' });
    await signIn(page);
    await page.getByRole('link', { name: /First chat/ }).click();
    await lastAnswer(page).waitFor();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const isDark = (color: string) => {
      const [r, g, b] = color.match(/\d+/g)!.map(Number);
      return r! + g! + b! < 200;
    };
    assert.ok(isDark(await background()), await background());
    await screenshot(page, 'dark');
    await page.getByRole('button', { name: 'Switch to light theme' }).click();
    assert.ok(!isDark(await background()));
    await page.reload();
    await page.getByRole('button', { name: 'Switch to dark theme' }).waitFor();
    assert.ok(!isDark(await background()), 'the choice outlives a reload');
    assert.deepEqual(pageErrors, []);
  });
});
