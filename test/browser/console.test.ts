/**
 * The admin console /console in headless Chromium, against the real server: what the admin does in
 * the page is checked through the API, and what phones (/phone pages, real JsSIP and WebRTC) do
 * shows up in the console's live view without a reload. Screenshots in test-output/screenshots/.
 */
import { expect } from 'chai';
import { ApiClient, newAccount } from '../support/api';
import { browserSuite, Chromium, screenshots } from '../support/browser';
import { ConsolePage } from '../support/console';
import { PhonePage } from '../support/phone';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server';
import { SERVICE_DISABLED_MESSAGE } from '../../admin-api/routes/users-groups';

/* eslint-disable @typescript-eslint/no-explicit-any */

describe('admin console /console (headless Chromium)', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let admin: ApiClient;
  let browser: Chromium | undefined;
  browserSuite((suite) => ({ srv, admin, browser } = suite));

  async function adminConsole(on: TestServer = srv): Promise<ConsolePage> {
    const c = await ConsolePage.open(browser!, on, 'console');
    await c.login('admin', ADMIN_PASSWORD);
    return c;
  }

  async function phoneFor(label: string, username: string, password: string): Promise<PhonePage> {
    const p = await PhonePage.open(browser!, srv, label);
    await p.login(username, password);
    return p;
  }

  async function userByName(username: string): Promise<any> {
    const r = await admin.get(`/users?search=${encodeURIComponent(username)}`);
    return r.body.items.find((u: any) => u.username === username);
  }

  it('creates a user with a password; its phone registers, calls, hangs up, and the live view follows without a reload', async () => {
    const c = await adminConsole();
    await c.createUser('alice', { password: 'alice-secret' });
    await c.waitNotice('User alice created with a password');
    await c.createUser('bob', { password: 'bob-secret' });
    expect(await userByName('alice')).to.include({ username: 'alice', role: 'user', domain: 'wac.local' });

    // Anything that reloads the page would lose this.
    await c.page.evaluate(() => { (globalThis as any).sameDocument = true; });
    await c.go('live');
    const firstPoll = await c.waitLiveUpdate(0);
    expect(await c.keys('registration')).to.deep.equal([]);
    const a = await phoneFor('alice', 'alice', 'alice-secret');
    await c.waitRegistration('alice', 1);
    const online = await c.registration('alice');
    expect(online.devices).to.equal('1');
    expect(online.transport).to.equal('WS');
    expect(online.userAgent).to.match(/^wac-ts phone \(JsSIP 3\./);
    expect(await c.cell('registration', 'alice', 'user')).to.equal('alice@wac.local');
    await screenshots('console-user-online', [c.lp, a.lp]);

    const b = await phoneFor('bob', 'bob', 'bob-secret');
    await c.waitRegistration('bob', 1);
    await a.call('bob');
    expect(await b.incoming()).to.contain('alice');
    await c.waitCalls([{ state: 'ringing', caller: 'alice', callee: 'bob' }]);
    await screenshots('console-call-ringing', [c.lp, a.lp, b.lp]);

    await b.answer();
    await Promise.all([a.waitCall('in-call'), b.waitCall('in-call')]);
    await c.waitCalls([{ state: 'answered', caller: 'alice', callee: 'bob' }]);
    expect(await c.page.innerText('[data-testid="call-row"] [data-field="kind"]')).to.equal('direct');
    await screenshots('console-call-answered', [c.lp, a.lp, b.lp]);

    await a.hangup();
    await Promise.all([a.waitCall('idle'), b.waitCall('idle')]);
    await c.waitCalls([]);
    expect(await c.page.innerText('#call-count')).to.equal('0 calls');

    // Logging out un-REGISTERs the phone; the live view drops alice and keeps bob.
    await a.lp.page.click('#logout');
    await c.waitRegistration('alice', 0);
    expect(await c.keys('registration')).to.deep.equal(['bob']);
    // All of it came from polling one document.
    expect(await c.page.evaluate(() => (globalThis as any).sameDocument)).to.equal(true);
    expect(await c.waitLiveUpdate(firstPoll)).to.be.greaterThan(firstPoll);
  });

  it('searches users, edits one, and sets passwords that the phone then logs in with', async () => {
    for (const username of ['dave', 'davina', 'erin']) {
      const r = await admin.post('/users', { username, credentials: [{ type: 'basic', data: { password: `old-${username}` } }] });
      expect(r.status).to.equal(201);
    }
    const c = await adminConsole();
    expect(await c.searchUsers('dav')).to.deep.equal(['dave', 'davina']);
    expect(await c.searchUsers('ERIN')).to.deep.equal(['erin']);
    expect(await c.page.innerText('#user-count')).to.equal('1 user');

    await c.editUser('erin');
    await c.page.selectOption('#user-edit-role', 'admin');
    await c.page.fill('#user-edit-email', 'erin@example.com');
    await c.page.fill('#user-edit-alias', 'erin.s');
    await c.page.check('#user-edit-dnd');
    await c.page.click('#user-edit-save');
    await c.waitNotice('User erin saved');
    await c.waitCell('user', 'erin', 'dnd', (t) => t === 'on');
    expect(await c.cell('user', 'erin', 'role')).to.equal('admin');
    expect(await c.cell('user', 'erin', 'email')).to.equal('erin@example.com');
    const erin = await userByName('erin');
    expect(erin).to.include({ role: 'admin', email: 'erin@example.com', alias: 'erin.s', dnd: true });
    // The search covers the email too.
    expect(await c.searchUsers('example.com')).to.deep.equal(['erin']);

    // Replacing the password of a user that has one.
    await c.searchUsers('dave');
    await c.editUser('dave');
    expect(await c.page.getAttribute('#user-password-status', 'data-state')).to.equal('set');
    await c.page.fill('#user-password', 'new-dave-secret');
    await c.page.click('#user-password-submit');
    await c.waitNotice('Password of dave set');
    const login = (username: string, password: string) => new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username, password });
    expect((await login('dave', 'old-dave')).status, 'the old password no longer works').to.equal(401);
    const dave = await phoneFor('dave', 'dave', 'new-dave-secret');
    expect(await srv.bindings('dave')).to.equal(1);

    // A user created without a password gets its first one.
    await c.searchUsers('');
    await c.createUser('frank');
    await c.waitNotice('User frank created');
    await c.editUser('frank');
    expect(await c.page.getAttribute('#user-password-status', 'data-state')).to.equal('none');
    await c.page.fill('#user-password', 'frank-first-secret');
    await c.page.click('#user-password-submit');
    await c.page.locator('#user-password-status[data-state="set"]').waitFor();
    await phoneFor('frank', 'frank', 'frank-first-secret');
    expect(await srv.bindings('frank')).to.equal(1);
    await screenshots('console-user-edited', [c.lp, dave.lp]);
  });

  it('creates SIP mappings to a user and to a group, and deletes one after the confirm step', async () => {
    const gina = await newAccount(admin, 'gina');
    const g = await admin.post('/usersgroups', { name: 'Sales', participants: [gina.id] });
    expect(g.status).to.equal(201);
    const c = await adminConsole();
    await c.go('mappings');

    await c.page.fill('#mapping-username', '205');
    await c.page.selectOption('#mapping-owner-kind', 'user');
    await c.page.selectOption('#mapping-owner', { label: gina.username });
    await c.page.click('#mapping-create-submit');
    await c.row('mapping', '205').waitFor();
    expect(await c.cell('mapping', '205', 'owner')).to.equal(`user ${gina.username}`);

    await c.page.fill('#mapping-username', '206');
    await c.page.selectOption('#mapping-owner-kind', 'group');
    await c.page.selectOption('#mapping-owner', `wac-group:${g.body.id}`);
    await c.page.fill('#mapping-password', 'sip-206-secret');
    await c.page.click('#mapping-create-submit');
    await c.row('mapping', '206').waitFor();
    expect(await c.cell('mapping', '206', 'owner')).to.equal('group Sales');
    const mapped = (await admin.get('/sipMappings')).body.items.map((m: any) => [m.credential.username, m.ownerUri]);
    expect(mapped).to.have.deep.members([['205', `wac-user:${gina.id}`], ['206', `wac-group:${g.body.id}`]]);
    await screenshots('console-sip-mappings', [c.lp]);

    await c.deleteRow('mapping', '205', false);
    expect(await c.keys('mapping')).to.deep.equal(['205', '206']);
    expect((await admin.get('/sipMappings')).body.total).to.equal(2);
    await c.deleteRow('mapping', '205', true);
    await c.row('mapping', '205').waitFor({ state: 'detached' });
    expect(await c.keys('mapping')).to.deep.equal(['206']);
    expect((await admin.get('/sipMappings')).body.items.map((m: any) => m.credential.username)).to.deep.equal(['206']);
  });

  it('creates a group with participants, changes them, and deletes it', async () => {
    const [h1, h2, h3] = [await newAccount(admin, 'helper'), await newAccount(admin, 'helper'), await newAccount(admin, 'helper')];
    const c = await adminConsole();
    await c.go('groups');
    await c.page.fill('#group-name', 'Support desk');
    await c.page.selectOption('#group-participants', [h1.id, h2.id]);
    await c.page.click('#group-submit');
    await c.row('group', 'Support desk').waitFor();
    const id = (await c.row('group', 'Support desk').getAttribute('data-id'))!;
    const me = (await admin.get('/users/me')).body;
    // The admin who creates a group owns it and is its first participant; the others follow in the
    // picker's order (usernames sorted as strings), hence the comparisons as sets.
    const created = (await admin.get(`/usersgroups/${id}`)).body;
    expect(created).to.include({ name: 'Support desk', owner: me.id });
    expect(created.participants[0]).to.equal(me.id);
    expect(created.participants).to.have.members([me.id, h1.id, h2.id]);
    const names = (cellText: string) => cellText.split(', ').sort();
    expect(names(await c.cell('group', 'Support desk', 'participants'))).to.deep.equal(['admin', h1.username, h2.username].sort());
    await screenshots('console-group-created', [c.lp]);

    await c.row('group', 'Support desk').locator('[data-testid="group-edit"]').click();
    expect(await c.page.getAttribute('#group-form', 'data-mode')).to.equal('edit');
    await c.page.selectOption('#group-participants', [h2.id, h3.id]);
    await c.page.click('#group-submit');
    const changed = [h2.username, h3.username].sort();
    await c.waitCell('group', 'Support desk', 'participants', (t) => JSON.stringify(names(t)) === JSON.stringify(changed));
    expect((await admin.get(`/usersgroups/${id}`)).body.participants).to.have.members([h2.id, h3.id]).and.to.have.length(2);
    expect(await c.page.getAttribute('#group-form', 'data-mode')).to.equal('create');

    await c.deleteRow('group', 'Support desk', true);
    await c.row('group', 'Support desk').waitFor({ state: 'detached' });
    expect((await admin.get(`/usersgroups/${id}`)).status).to.equal(404);
  });

  it('shows the API\'s errors: refused login, taken names, an invalid field, groups turned off', async () => {
    const c = await ConsolePage.open(browser!, srv, 'console');
    await c.submitLogin('admin', 'wrong-password');
    expect(await c.loginError()).to.equal('invalid username or password');
    const user = await newAccount(admin, 'plain');
    await c.submitLogin(user.username, user.password);
    expect(await c.loginError()).to.equal(`${user.username} is not an admin (role user): the console needs an admin`);
    await c.login('admin', ADMIN_PASSWORD);

    await c.page.fill('#user-create-username', user.username);
    await c.page.click('#user-create-submit');
    expect(await c.error()).to.deep.equal({ text: `user ${user.username} already exists in domain wac.local (conflict)`, code: 'conflict' });
    await screenshots('console-api-error', [c.lp]);
    await c.page.click('#error-dismiss');
    await c.page.locator('#error').waitFor({ state: 'hidden' });

    await c.searchUsers(user.username);
    await c.editUser(user.username);
    await c.page.fill('#user-edit-email', 'not-an-email');
    await c.page.click('#user-edit-save');
    const invalid = await c.error();
    expect(invalid.code).to.equal('invalid_request');
    expect(invalid.text).to.match(/^email: /);
    expect((await userByName(user.username)).email).to.equal(undefined);

    await admin.post('/sipMappings', { ownerUri: `wac-user:${user.id}`, credential: { username: '300' } });
    await c.go('mappings');
    await c.row('mapping', '300').waitFor();
    await c.page.fill('#mapping-username', '300');
    await c.page.click('#mapping-create-submit');
    expect((await c.error()).code).to.equal('conflict');

    const off = await startTestServer({ usersGroup: false });
    try {
      const d = await adminConsole(off);
      await d.go('groups');
      await d.page.locator('#group-unavailable').waitFor({ state: 'visible' });
      expect(await d.page.innerText('#group-unavailable')).to.equal(`${SERVICE_DISABLED_MESSAGE} (service_disabled)`);
      expect(await d.page.isVisible('#group-form')).to.equal(false);
      await screenshots('console-groups-disabled', [d.lp]);
    } finally {
      await off.close();
    }
  });

  it('keeps the session over a reload, renews a refused access token, returns to the login form when that fails, logs out', async () => {
    const c = await adminConsole();
    await c.go('live');
    await c.page.reload();
    await c.page.locator('#section-live').waitFor({ state: 'visible' });
    expect(await c.page.isVisible('#login')).to.equal(false);

    const KEY = 'wac-console-tokens';
    const spoil = (which: string[]) => c.page.evaluate(([key, fields]) => {
      const storage = (globalThis as any).sessionStorage;
      const t = JSON.parse(storage.getItem(key));
      for (const f of fields) t[f] = 'spoiled';
      storage.setItem(key, JSON.stringify(t));
    }, [KEY, which] as [string, string[]]);

    await spoil(['access_token']);
    await c.page.reload();
    await c.page.locator('#section-live').waitFor({ state: 'visible' });
    const renewed = await c.page.evaluate((key) => JSON.parse((globalThis as any).sessionStorage.getItem(key)).access_token as string, KEY);
    expect(renewed).to.not.equal('spoiled');
    expect((await new ApiClient(srv.adminUrl, renewed).get('/users/me')).body.username).to.equal('admin');

    await spoil(['access_token', 'refresh_token']);
    await c.page.reload();
    expect(await c.loginError()).to.match(/^Session expired \(invalid or expired token\): log in again$/);
    expect(await c.page.evaluate((key) => (globalThis as any).sessionStorage.getItem(key), KEY)).to.equal(null);

    await c.login('admin', ADMIN_PASSWORD);
    await c.page.click('#logout');
    await c.page.locator('#login').waitFor({ state: 'visible' });
    expect(await c.page.evaluate((key) => (globalThis as any).sessionStorage.getItem(key), KEY)).to.equal(null);
  });
});
