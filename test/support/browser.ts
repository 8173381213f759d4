/**
 * Headless Chromium for the browser tests, driven by playwright-core (no browser download: the
 * Debian package's /usr/bin/chromium, installed by .ci/setup).
 *
 * One browser per suite (`Chromium.launch` in `before`, `close` in `after`); each page gets its own
 * browser context, so pages share no storage or permissions, like separate users. Playwright starts
 * the browser with a new, empty temporary --user-data-dir and removes it on close.
 *
 * Every wait is bounded and, on timeout, says what it waited for and what the page showed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WEB_MANIFEST } from '../../admin-api/web';
import { adminClient, type ApiClient } from './api';
import { startTestServer, type TestServer } from './server';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-output/screenshots');

export const CHROMIUM_ARGS = [
  // This machine's network is closed: anything Chromium does in the background fails, slowly.
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // WebRTC without people or devices: a fake microphone (a beep), permission granted, media on loopback.
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  // Several pages at once: none may be throttled for being in the background.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
];

/** A page with a name for messages and file names, and what its console said. */
export interface LabeledPage {
  label: string;
  page: Page;
  context: BrowserContext;
  console: string[];
}

export class Chromium {
  private readonly pages: LabeledPage[] = [];

  private constructor(readonly browser: Browser) {}

  /**
   * Starts Chromium, after building the pages if they are stale. Without Chromium the suite is
   * skipped on a developer machine (`npm run test:all`, whose .ci/setup installs it) and fails under CI.
   */
  static async launch(ctx: Mocha.Context): Promise<Chromium> {
    if (!fs.existsSync(CHROMIUM_PATH)) {
      const msg = `${CHROMIUM_PATH} not found (Debian package chromium; .ci/setup installs it)`;
      if (process.env.CI) throw new Error(msg);
      // eslint-disable-next-line no-console
      console.warn(`      skipped: ${msg}`);
      ctx.skip();
    }
    ensureWebBuild();
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    return new Chromium(browser);
  }

  /** A new page in a context of its own, at `url`. */
  async newPage(label: string, url: string): Promise<LabeledPage> {
    const context = await this.browser.newContext({ viewport: { width: 640, height: 720 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const lp: LabeledPage = { label, page, context, console: [] };
    page.on('console', (m) => lp.console.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => lp.console.push(`[pageerror] ${e.message}`));
    this.pages.push(lp);
    const res = await page.goto(url);
    if (!res || res.status() !== 200) throw new Error(`${label}: GET ${url} answered ${res?.status()}: ${await res?.text()}`);
    return lp;
  }

  /** Closes every page's context (between tests); the browser stays. */
  async closePages(): Promise<void> {
    const pages = this.pages.splice(0);
    await Promise.all(pages.map((p) => p.context.close().catch(() => undefined)));
  }

  async close(): Promise<void> {
    await this.closePages();
    await this.browser.close();
  }

  /** The console output of every open page, for a failed test's report. */
  consoleDump(): string {
    return this.pages.map((p) => `--- ${p.label} console ---\n${p.console.slice(-40).join('\n')}`).join('\n');
  }
}

/** Saves a screenshot of each page as test-output/screenshots/<name>-<label>.png; returns the files. */
export async function screenshots(name: string, pages: LabeledPage[]): Promise<string[]> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  return Promise.all(pages.map(async (p) => {
    const file = path.join(SCREENSHOT_DIR, `${slug}-${p.label}.png`);
    await p.page.screenshot({ path: file, fullPage: true });
    return file;
  }));
}

/**
 * Calls `probe` (which reads the page, e.g. with page.evaluate) every 100 ms until `done(value)`,
 * or fails after `ms` with the last value and the page's text. (Playwright's waitForFunction polls
 * on animation frames by default, which background pages may not get.)
 */
export async function pollPage<T>(lp: LabeledPage, what: string, probe: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      last = v;
      lastError = undefined;
      if (done(v)) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = lastError ? `error ${String(lastError)}` : JSON.stringify(last);
      const body = await lp.page.locator('body').innerText({ timeout: 1000 }).catch(() => '(no text)');
      throw new Error(`${lp.label}: ${what} not reached within ${ms} ms; last seen: ${seen}\n--- page text ---\n${body}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of `attribute` on the element `selector` (undefined when there is no such element). */
export function attr(lp: LabeledPage, selector: string, attribute: string): Promise<string | null | undefined> {
  return lp.page.evaluate(attrProbe, [selector, attribute] as [string, string]);
}

function attrProbe([selector, attribute]: [string, string]): string | null | undefined {
  const el = (globalThis as any).document.querySelector(selector); // eslint-disable-line @typescript-eslint/no-explicit-any
  return el ? (el.getAttribute(attribute) as string | null) : undefined;
}

/** Waits until `selector`'s `attribute` equals `value`. */
export async function waitForAttr(lp: LabeledPage, selector: string, attribute: string, value: string, ms = 10_000): Promise<void> {
  await pollPage(lp, `${selector} ${attribute}="${value}"`, () => attr(lp, selector, attribute), (v) => v === value, ms);
}

/** The visible text of `selector`. */
export function text(lp: LabeledPage, selector: string): Promise<string> {
  return lp.page.locator(selector).innerText();
}

const ROOT = path.resolve(__dirname, '../..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/web (npm run build:web) when it is missing or older than a file in web/, so a single
 * suite run with mocha directly tests the pages as they are in the sources.
 */
export function ensureWebBuild(): void {
  const manifest = path.join(ROOT, 'dist', 'web', WEB_MANIFEST);
  const built = fs.existsSync(manifest) ? fs.statSync(manifest).mtimeMs : 0;
  if (built > newestMtime(path.join(ROOT, 'web'))) return;
  execFileSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'scripts', 'build-web.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The hooks every browser suite needs: a test server with an admin client and one Chromium, its pages
 * closed after each test (their console printed when the test failed), all stopped at the end.
 */
export function browserSuite(ready: (suite: { srv: TestServer; admin: ApiClient; browser: Chromium }) => void): void {
  let srv: TestServer | undefined;
  let browser: Chromium | undefined;
  before(async function () {
    this.timeout(60_000);
    srv = await startTestServer();
    const admin = await adminClient(srv);
    browser = await Chromium.launch(this);
    ready({ srv, admin, browser });
  });
  afterEach(async function () {
    if (!browser) return;
    if (this.currentTest?.state === 'failed') process.stderr.write(`${browser.consoleDump()}\n`);
    await browser.closePages();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });
}
