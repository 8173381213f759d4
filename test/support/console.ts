/** The /console page driven as an admin would (clicks and typing), plus reads of what it shows. */
import { expect } from 'chai';
import type { Locator, Page } from 'playwright-core';
import { attr, pollPage, text, waitForAttr, type Chromium, type LabeledPage } from './browser';
import type { TestServer } from './server';

export type Section = 'users' | 'mappings' | 'groups' | 'live';

export interface LiveCallRow {
  state: string;
  caller: string;
  callee: string;
}

export class ConsolePage {
  constructor(readonly lp: LabeledPage) {}

  /** Opens /console/ on the test server's admin port, wide enough for its tables. */
  static async open(browser: Chromium, srv: TestServer, label: string): Promise<ConsolePage> {
    const lp = await browser.newPage(label, `${srv.adminUrl}/console/`);
    await lp.page.setViewportSize({ width: 1100, height: 800 });
    return new ConsolePage(lp);
  }

  get page(): Page {
    return this.lp.page;
  }

  /** Logs in and waits for the console (the users section first). */
  async login(username: string, password: string): Promise<void> {
    await this.submitLogin(username, password);
    await this.page.locator('#console').waitFor({ state: 'visible' });
  }

  async submitLogin(username: string, password: string): Promise<void> {
    await this.page.fill('#login-username', username);
    await this.page.fill('#login-password', password);
    await this.page.click('#login-submit');
  }

  /** The login form's error, once there is one. */
  loginError(): Promise<string> {
    return pollPage(this.lp, 'a login error', () => this.page.innerText('#login-error'), (t) => t !== '', 10_000);
  }

  async go(section: Section): Promise<void> {
    await this.page.click(`#nav-${section}`);
    await this.page.locator(`#section-${section}`).waitFor({ state: 'visible' });
  }

  /** The row of a list (`user`, `mapping`, `group`, `registration`, `call`) whose data-key is `key`. */
  row(kind: string, key: string): Locator {
    return this.page.locator(`[data-testid="${kind}-row"][data-key="${key}"]`);
  }

  /** The data-keys of a list's rows, in order. */
  keys(kind: string): Promise<string[]> {
    return this.page.locator(`[data-testid="${kind}-row"]`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key') ?? ''));
  }

  /** One cell of a row (its data-field). */
  cell(kind: string, key: string, field: string): Promise<string> {
    return this.row(kind, key).locator(`[data-field="${field}"]`).innerText();
  }

  /** Waits until a cell of a row (its data-field) satisfies `done`; returns its text. */
  waitCell(kind: string, key: string, field: string, done: (text: string) => boolean, ms = 10_000): Promise<string> {
    return pollPage(this.lp, `${kind} ${key}: its ${field}`, () => this.cell(kind, key, field), done, ms);
  }

  /** Waits until the console says `expected` (what it did last). */
  async waitNotice(expected: string): Promise<void> {
    await pollPage(this.lp, `the notice "${expected}"`, () => text(this.lp, '#notice'), (t) => t === expected, 10_000);
  }

  /** Fills the new-user form and waits for the user's row. */
  async createUser(username: string, opts: { password?: string; role?: string } = {}): Promise<void> {
    await this.page.fill('#user-create-username', username);
    await this.page.fill('#user-create-password', opts.password ?? '');
    await this.page.selectOption('#user-create-role', opts.role ?? 'user');
    await this.page.click('#user-create-submit');
    await this.row('user', username).waitFor();
  }

  /** Searches the users and waits until the rows answer that search. */
  async searchUsers(search: string): Promise<string[]> {
    await this.page.fill('#user-search', search);
    await this.page.press('#user-search', 'Enter');
    await waitForAttr(this.lp, '#user-list', 'data-search', search);
    return this.keys('user');
  }

  async editUser(username: string): Promise<void> {
    await this.row('user', username).locator('[data-testid="user-edit"]').click();
    await waitForAttr(this.lp, '#user-editor', 'data-key', username);
    await this.page.locator('#user-editor').waitFor({ state: 'visible' });
  }

  /** Clicks a row's Delete and answers the confirm step. */
  async deleteRow(kind: string, key: string, confirm: boolean): Promise<void> {
    await this.row(kind, key).locator(`[data-testid="${kind}-delete"]`).click();
    const dialog = this.page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    await this.page.click(confirm ? '#confirm-ok' : '#confirm-cancel');
    await dialog.waitFor({ state: 'hidden' });
  }

  /** The error banner's text and API code, once it shows. */
  async error(): Promise<{ text: string; code: string }> {
    await this.page.locator('#error').waitFor({ state: 'visible' });
    return { text: await text(this.lp, '#error-text'), code: (await attr(this.lp, '#error', 'data-code')) ?? '' };
  }

  /** Waits until the live view lists `user` with `devices` devices (0: not listed). */
  async waitRegistration(user: string, devices: number, ms = 10_000): Promise<void> {
    const selector = `[data-testid="registration-row"][data-key="${user}"]`;
    await pollPage(this.lp, `${user} registered with ${devices} device(s) in the live view`, () => attr(this.lp, selector, 'data-devices'),
      (v) => (devices === 0 ? v === undefined : v === String(devices)), ms);
  }

  /** The calls the live view shows. */
  calls(): Promise<LiveCallRow[]> {
    return this.page.locator('[data-testid="call-row"]').evaluateAll((rows) => rows.map((r) => ({
      state: r.getAttribute('data-state') ?? '', caller: r.getAttribute('data-caller') ?? '', callee: r.getAttribute('data-callee') ?? '',
    })));
  }

  /** Waits until the live view shows exactly these calls. */
  async waitCalls(expected: LiveCallRow[], ms = 10_000): Promise<void> {
    const want = JSON.stringify(expected);
    await pollPage(this.lp, `live calls ${want}`, () => this.calls(), (v) => JSON.stringify(v) === want, ms);
  }

  /** Waits for a refresh of the live view after `after` (ms since epoch); returns its time. */
  async waitLiveUpdate(after: number, ms = 10_000): Promise<number> {
    const at = () => attr(this.lp, '#live-updated', 'data-updated').then((v) => Number(v || 0));
    return pollPage(this.lp, `a live view refresh after ${after}`, at, (v) => v > after, ms);
  }

  /** The live view's row for `user` and its cells. */
  async registration(user: string): Promise<{ devices: string; transport: string; userAgent: string }> {
    expect(await this.row('registration', user).count(), `registration row of ${user}`).to.equal(1);
    return {
      devices: await this.cell('registration', user, 'devices'),
      transport: await this.cell('registration', user, 'transport'),
      userAgent: await this.cell('registration', user, 'userAgent'),
    };
  }
}
