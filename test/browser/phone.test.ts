/**
 * The /phone page in headless Chromium: real JsSIP over the server's WebSocket, real WebRTC media
 * (Chromium's fake microphone) between pages on loopback (`?loopback=1`).
 *
 * Media is proven from the RTCPeerConnections themselves: `connected`, and getStats() counting
 * inbound audio packets on both ends. Each test leaves screenshots in test-output/screenshots/.
 */
import { expect } from 'chai';
import { ApiClient, newAccount, type Account } from '../support/api';
import { browserSuite, Chromium, pollPage, screenshots } from '../support/browser';
import { PhonePage } from '../support/phone';
import type { TestServer } from '../support/server';

describe('browser softphone /phone (headless Chromium, WebRTC on loopback)', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let admin: ApiClient;
  let browser: Chromium | undefined;
  browserSuite((suite) => ({ srv, admin, browser } = suite));

  async function phoneFor(label: string, account: Account): Promise<PhonePage> {
    const p = await PhonePage.open(browser!, srv, label);
    await p.login(account.username, account.password);
    return p;
  }

  it('alice calls bob: bob sees alice, answers, audio flows both ways on loopback, hang-up leaves both idle', async () => {
    const [alice, bob] = [await newAccount(admin, 'alice'), await newAccount(admin, 'bob')];
    const a = await phoneFor('alice', alice);
    const b = await phoneFor('bob', bob);
    expect(await srv.bindings(alice.username)).to.equal(1);
    expect(await srv.bindings(bob.username)).to.equal(1);

    await a.call(bob.username);
    expect(await b.incoming()).to.contain(alice.username);
    await a.waitCall('ringing');
    await b.answer();
    await Promise.all([a.waitCall('in-call'), b.waitCall('in-call')]);

    const [ma, mb] = await Promise.all([a.audioFlowing(), b.audioFlowing()]);
    for (const m of [ma, mb]) {
      expect(m.packetsSent).to.be.greaterThan(0);
      expect(m.speaker, 'the remote audio plays through <audio id="remote-audio">').to.deep.equal({ liveTracks: 1, paused: false });
      expect(m.remoteCandidates, 'only loopback candidates were offered').to.have.length.greaterThan(0);
      expect(new Set(m.remoteCandidates)).to.deep.equal(new Set(['127.0.0.1']));
    }
    await screenshots('phone-call-connected', [a.lp, b.lp]);

    await a.hangup();
    await Promise.all([a.waitCall('idle'), b.waitCall('idle')]);
    expect((await b.lastCall()).cause).to.equal('Terminated');
    expect(await a.media()).to.equal(null);
    expect(await b.media()).to.equal(null);
  });

  it('a call to a group rings all three participants; one answers, the others stop ringing; caller and answerer have audio', async () => {
    const members = [await newAccount(admin, 'gm'), await newAccount(admin, 'gm'), await newAccount(admin, 'gm')];
    const caller = await newAccount(admin, 'gcaller');
    const g = await admin.post('/usersgroups', { name: 'Support', participants: members.map((m) => m.id) });
    expect(g.status, JSON.stringify(g.body)).to.equal(201);
    const groupId: string = g.body.id;
    const ps: PhonePage[] = [];
    for (const [i, m] of members.entries()) ps.push(await phoneFor(`member${i + 1}`, m));
    const c = await phoneFor('caller', caller);

    await c.call(groupId);
    for (const p of ps) expect(await p.incoming(), p.label).to.contain(caller.username);
    await screenshots('group-call-ringing', [c.lp, ...ps.map((p) => p.lp)]);

    const [first, answerer, third] = ps;
    await answerer.answer();
    await Promise.all([c.waitCall('in-call'), answerer.waitCall('in-call'), first.waitCall('idle'), third.waitCall('idle')]);
    for (const p of [first, third]) {
      expect(await p.lastCall(), p.label).to.deep.equal({ text: `Call from ${caller.username} answered elsewhere`, cause: 'elsewhere' });
      expect(await p.media(), p.label).to.equal(null);
    }
    await Promise.all([c.audioFlowing(), answerer.audioFlowing()]);
    await screenshots('group-call-answered', [c.lp, ...ps.map((p) => p.lp)]);

    await answerer.hangup();
    await Promise.all(ps.concat(c).map((p) => p.waitCall('idle')));
    expect((await c.lastCall()).cause).to.equal('Terminated');
  });

  it('bob rejects: alice sees the call fail as busy (486), both end idle', async () => {
    const [alice, bob] = [await newAccount(admin, 'alice'), await newAccount(admin, 'bob')];
    const a = await phoneFor('alice', alice);
    const b = await phoneFor('bob', bob);
    await a.call(bob.username);
    await b.incoming();
    await b.reject();
    await Promise.all([a.waitCall('idle'), b.waitCall('idle')]);
    const failed = await a.lastCall();
    expect(failed.cause).to.equal('Busy');
    expect(failed.text).to.contain('486 Busy Here');
    expect(await b.lastCall()).to.deep.equal({ text: `Rejected call from ${alice.username}`, cause: 'Rejected' });
    await screenshots('phone-call-rejected', [a.lp, b.lp]);
  });

  it('alice hangs up while bob\'s phone rings: bob sees a missed call', async () => {
    const [alice, bob] = [await newAccount(admin, 'alice'), await newAccount(admin, 'bob')];
    const a = await phoneFor('alice', alice);
    const b = await phoneFor('bob', bob);
    await a.call(bob.username);
    await b.incoming();
    await a.waitCall('ringing');
    await a.hangup();
    await Promise.all([a.waitCall('idle'), b.waitCall('idle')]);
    expect(await a.lastCall()).to.deep.equal({ text: `Call to ${bob.username} cancelled`, cause: 'Canceled' });
    expect(await b.lastCall()).to.deep.equal({ text: `Missed call from ${alice.username}`, cause: 'Canceled' });
    await screenshots('phone-call-missed', [a.lp, b.lp]);
  });

  it('logs in with an access token from POST /sapi/token (Bearer on SIP, no password) and takes a call', async () => {
    const [carol, dave] = [await newAccount(admin, 'carol'), await newAccount(admin, 'dave')];
    const t = await new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username: carol.username, password: carol.password });
    expect(t.status).to.equal(200);
    const c = await PhonePage.open(browser!, srv, 'carol-token');
    await c.loginWithToken(t.body.access_token);
    expect(await c.lp.page.innerText('#identity')).to.equal(`${carol.username}@wac.local`);
    const auth = await c.lp.page.evaluate(() => {
      const ua = (globalThis as any).phone.ua; // eslint-disable-line @typescript-eslint/no-explicit-any
      return { jwt: ua.get('authorization_jwt') as string | null, password: ua.get('password') as string | null | undefined };
    });
    expect(auth.jwt).to.equal(`Bearer ${t.body.access_token}`);
    expect(auth.password ?? null).to.equal(null);
    expect(await srv.bindings(carol.username)).to.equal(1);
    await screenshots('phone-token-login', [c.lp]);

    const d = await phoneFor('dave', dave);
    await d.call(carol.username);
    expect(await c.incoming()).to.contain(dave.username);
    await c.answer();
    await Promise.all([c.audioFlowing(), d.audioFlowing()]);
    await c.hangup();
    await Promise.all([c.waitCall('idle'), d.waitCall('idle')]);
  });

  it('refuses a wrong password and a bad token with the reason, back on the login form', async () => {
    const erin = await newAccount(admin, 'erin');
    const p = await PhonePage.open(browser!, srv, 'erin-refused');
    await p.lp.page.fill('#login-username', erin.username);
    await p.lp.page.fill('#login-password', 'not-the-password');
    await p.lp.page.click('#login-submit');
    const loginError = () => p.lp.page.innerText('#login-error');
    const refusedPassword = await pollPage(p.lp, 'the login error', loginError, (t) => t !== '', 10_000);
    expect(refusedPassword).to.match(/^Could not register: .*\b(401|403)\b/);
    expect(await p.lp.page.isVisible('#phone')).to.equal(false);
    expect(await srv.bindings(erin.username)).to.equal(0);

    await p.lp.page.fill('#login-token', 'not.a.token');
    await p.lp.page.click('#login-token-submit');
    const refusedToken = await pollPage(p.lp, 'the token error', loginError, (t) => t.startsWith('Token refused'), 10_000);
    expect(refusedToken).to.equal('Token refused: invalid or expired token');
    expect(await p.lp.page.isVisible('#phone')).to.equal(false);
    await screenshots('phone-login-refused', [p.lp]);
  });
});
