/**
 * End-to-end: group chat (issue 5). A SIP MESSAGE to sip:<groupId>@wac.local is delivered to every
 * participant's devices except the sender's; membership changes through the admin API take effect at
 * once. Real JsSIP 3.13 and SIP.js 0.21 user agents over WebSocket.
 */
import { expect } from 'chai';
import { Groups } from '../../shared/model/groups';
import { adminClient, newAccount, type ApiClient } from '../support/api';
import { createJsSipUa, sleep, waitUntil, type JsSipUa } from '../support/jssip';
import { startTestServer, type TestServer } from '../support/server';
import { clientSuite } from '../support/suite';
import { createSipJsUa, loadSipJs, type SipJsUa } from '../support/sipjs';


interface Received {
  body: string;
  from: string;
  to: string;
}

/** A device that records the MESSAGEs it receives (JsSIP 'newMessage' / SIP.js delegate.onMessage). */
interface Device {
  label: string;
  inbox: Received[];
}

function jssipDevice(ua: JsSipUa): Device {
  const d: Device = { label: ua.label, inbox: [] };
  ua.ua.on('newMessage', (e: any) => {
    if (e.originator !== 'remote') return;
    d.inbox.push({ body: String(e.request.body ?? ''), from: e.request.from.uri.user, to: e.request.to.uri.user });
  });
  return d;
}

function sipjsDevice(ua: SipJsUa): Device {
  const d: Device = { label: ua.label, inbox: [] };
  ua.ua.delegate = {
    ...ua.ua.delegate,
    onMessage: (m) => {
      d.inbox.push({ body: m.request.body, from: m.request.from.uri.user ?? '', to: m.request.to.uri.user ?? '' });
      void m.accept().catch(() => undefined);
    },
  };
  return d;
}

/** Sends a MESSAGE from a JsSIP UA; resolves with the final status code (bounded). */
function sendFrom(ua: JsSipUa, target: string, body: string, ms = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${ua.label}: no final response to MESSAGE within ${ms} ms`)), ms);
    ua.ua.sendMessage(target, body, {
      contentType: 'text/plain',
      eventHandlers: {
        succeeded: (e: any) => {
          clearTimeout(t);
          resolve(e.response?.status_code ?? 200);
        },
        failed: (e: any) => {
          clearTimeout(t);
          resolve(e.response?.status_code ?? 0);
        },
      },
    });
  });
}

/** Sends a MESSAGE from a SIP.js UA (Messager); resolves with the final status code (bounded). */
async function sendFromSipJs(ua: SipJsUa, target: string, body: string, ms = 5000): Promise<number> {
  const sip = await loadSipJs();
  const uri = sip.UserAgent.makeURI(target);
  if (!uri) throw new Error(`bad target ${target}`);
  const messager = new sip.Messager(ua.ua, uri, body, 'text/plain');
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${ua.label}: no final response to MESSAGE within ${ms} ms`)), ms);
    messager
      .message({
        requestDelegate: {
          onAccept: (r) => {
            clearTimeout(t);
            resolve(r.message.statusCode ?? 0);
          },
          onReject: (r) => {
            clearTimeout(t);
            resolve(r.message.statusCode ?? 0);
          },
        },
      })
      .catch((err: Error) => {
        clearTimeout(t);
        reject(err);
      });
  });
}

const got = (d: Device, body: string) => d.inbox.filter((m) => m.body === body);

describe('e2e: group chat', function () {
  this.timeout(20000);
  let srv: TestServer;
  let api: ApiClient;

  const newUser = (prefix: string) => newAccount(api, prefix);

  clientSuite((suite) => ({ srv, api } = suite));

  /** Waits until every device in `yes` got `body` exactly once, then checks `no` got nothing. */
  async function expectDelivery(body: string, yes: Device[], no: Device[]): Promise<void> {
    await waitUntil(() => yes.every((d) => got(d, body).length >= 1), 4000,
      `"${body}" at ${yes.filter((d) => got(d, body).length === 0).map((d) => d.label).join(', ')}`);
    await sleep(500); // give a wrong delivery time to show up
    for (const d of yes) expect(got(d, body), `${d.label}: copies of "${body}"`).to.have.length(1);
    for (const d of no) expect(got(d, body), `${d.label} must not receive "${body}"`).to.have.length(0);
  }

  it('a MESSAGE to the group reaches every other participant\'s devices (both devices of one), not the sender\'s; membership changes apply at once', async () => {
    const [s, r1, r2, r3] = await Promise.all([newUser('sender'), newUser('r'), newUser('r'), newUser('r')]);
    const created = await api.post('/usersgroups', { name: 'chat', participants: [s.id, r1.id, r2.id] });
    expect(created.status).to.equal(201);
    const groupId: string = created.body.id;

    const senderUa = await createJsSipUa({ server: srv, ...s, label: 'sender-desk' });
    const sender = jssipDevice(senderUa);
    const senderPhone = jssipDevice(await createJsSipUa({ server: srv, ...s, label: 'sender-phone' }));
    const r1a = jssipDevice(await createJsSipUa({ server: srv, ...r1, label: 'r1-jssip' }));
    const r1b = sipjsDevice(await createSipJsUa({ server: srv, ...r1, label: 'r1-sipjs' }));
    const r2d = jssipDevice(await createJsSipUa({ server: srv, ...r2, label: 'r2' }));
    const r3d = sipjsDevice(await createSipJsUa({ server: srv, ...r3, label: 'r3 (not yet a participant)' }));
    expect(await srv.bindings(r1.username)).to.equal(2);

    const target = `sip:${groupId}@${srv.domain}`;
    expect(await sendFrom(senderUa, target, 'hello group')).to.equal(200);
    await expectDelivery('hello group', [r1a, r1b, r2d], [sender, senderPhone, r3d]);
    // Each copy says who wrote it and that it is the group's chat (To: the group).
    for (const m of [...got(r1a, 'hello group'), ...got(r1b, 'hello group'), ...got(r2d, 'hello group')]) {
      expect(m.from).to.equal(s.username);
      expect(m.to).to.equal(groupId);
    }

    // r2 leaves the group (admin removes it): it no longer receives.
    const removed = await api.del(`/usersgroups/${groupId}/participants/${r2.id}`);
    expect(removed.status, JSON.stringify(removed.body)).to.equal(200);
    expect(await sendFrom(senderUa, target, 'after r2 left')).to.equal(200);
    await expectDelivery('after r2 left', [r1a, r1b], [sender, senderPhone, r2d, r3d]);

    // r3 joins: it receives from then on.
    const added = await api.post(`/usersgroups/${groupId}/participants`, { userId: r3.id });
    expect(added.status, JSON.stringify(added.body)).to.equal(200);
    expect(await sendFrom(senderUa, target, 'welcome r3')).to.equal(200);
    await expectDelivery('welcome r3', [r1a, r1b, r3d], [sender, senderPhone, r2d]);

    // Replacing the participant list (PUT) applies at once too.
    const replaced = await api.put(`/usersgroups/${groupId}`, { participants: [s.id, r2.id] });
    expect(replaced.status, JSON.stringify(replaced.body)).to.equal(200);
    expect(await sendFrom(senderUa, target, 'only r2 now')).to.equal(200);
    await expectDelivery('only r2 now', [r2d], [sender, senderPhone, r1a, r1b, r3d]);
  });

  it('any participant can write to the group: a reply from a SIP.js participant reaches the others', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    const created = await api.post('/usersgroups', { name: 'chat', participants: [a.id, b.id, c.id] });
    expect(created.status).to.equal(201);
    const groupId: string = created.body.id;
    const aUa = await createJsSipUa({ server: srv, ...a });
    const aDev = jssipDevice(aUa);
    const bUa = await createJsSipUa({ server: srv, ...b });
    const bDev = jssipDevice(bUa);
    const cUa = await createSipJsUa({ server: srv, ...c });
    const cDev = sipjsDevice(cUa);

    expect(await sendFromSipJs(cUa, `sip:${groupId}@${srv.domain}`, 'from c')).to.equal(200);
    await expectDelivery('from c', [aDev, bDev], [cDev]);
    expect(got(aDev, 'from c')[0].from).to.equal(c.username);
    expect(await sendFrom(aUa, `sip:${groupId}@${srv.domain}`, 'from a')).to.equal(200);
    await expectDelivery('from a', [bDev, cDev], [aDev]);
  });

  describe('without backend[] = UsersGroup', () => {
    let off: TestServer;
    before(async () => {
      off = await startTestServer({ usersGroup: false });
    });
    after(async () => {
      await off?.close();
    });

    it('a MESSAGE to a group id is not delivered (404), even for a group that exists in the store', async () => {
      const offApi = await adminClient(off);
      const mk = async (username: string) => {
        const r = await offApi.post('/users', { username, credentials: [{ type: 'basic', data: { password: `pw-${username}` } }] });
        expect(r.status).to.equal(201);
        return { id: r.body.id as string, username, password: `pw-${username}` };
      };
      const [s, r] = await Promise.all([mk('offsender'), mk('offreader')]);
      const group = await new Groups(off.wac.store).create({ name: 'stored', participants: [s.id, r.id] }, s.id);
      const sUa = await createJsSipUa({ server: off, ...s });
      const rDev = jssipDevice(await createJsSipUa({ server: off, ...r }));
      expect(await sendFrom(sUa, `sip:${group.id}@${off.domain}`, 'anyone?')).to.equal(404);
      await sleep(300);
      expect(rDev.inbox).to.have.length(0);
    });
  });
});
