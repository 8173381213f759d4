/**
 * GET /sapi/registrations from real registrations: JsSIP over WebSocket and a bare UDP peer, on the
 * embedded store and on Redis.
 */
import { expect } from 'chai';
import { ApiClient, adminClient, getUntil, userClient } from '../support/api';
import { createJsSipUa, stopAllJsSipUas, waitUntil, type JsSipUa } from '../support/jssip';
import { BACKENDS, startServerOn, TestServer } from '../support/server';
import { digestAnswer, rnd, UdpPeer } from '../support/udp-peer';

interface Device {
  contact: string;
  transport: string;
  instance: string | null;
  userAgent: string | null;
  expiresAt: string;
  registeredAt: string;
}
interface Registration {
  user: string;
  aor: string;
  devices: Device[];
}

for (const backend of BACKENDS) {
  describe(`/sapi/registrations from real registrations (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    const clients: Record<string, ApiClient> = {};

    before(async function () {
      srv = await startServerOn(backend, this, { ini: '[registrar]\nmin_expires = 1\n' });
      admin = await adminClient(srv);
      for (const name of ['alice', 'bob', 'carol', 'dave']) clients[name] = (await userClient(srv, name, `pw-${name}`)).client;
    });
    after(async () => {
      await stopAllJsSipUas();
      await srv?.close();
    });

    const ua = (username: string, instanceId?: string): Promise<JsSipUa> => createJsSipUa({ server: srv, username, password: `pw-${username}`, instanceId });
    /** The devices of `user` as the admin sees them, once `done` holds for them. */
    const devicesOf = async (user: string, done: (devices: Device[]) => boolean, what: string): Promise<Device[]> => {
      const body = await getUntil(admin, `/registrations?user=${user}`, (b) => done(b.items[0]?.devices ?? []), what);
      return body.items[0]?.devices ?? [];
    };

    it('lists each registered user once, sorted by user, with every device', async () => {
      const a1 = await ua('alice', '00000000-0000-4000-8000-00000000a001');
      await ua('alice', '00000000-0000-4000-8000-00000000a002');
      await ua('bob');
      const body = await getUntil(admin, '/registrations', (b) => b.total === 2 && b.items[0].devices.length === 2,
        'alice with 2 devices and bob with 1');
      expect(body.items.map((r: Registration) => [r.user, r.aor, r.devices.length])).to.deep.equal([
        ['alice', 'alice@wac.local', 2],
        ['bob', 'bob@wac.local', 1],
      ]);
      const alice: Registration = body.items[0];
      expect(alice.devices.map((d) => d.instance).sort()).to.deep.equal([
        '<urn:uuid:00000000-0000-4000-8000-00000000a001>',
        '<urn:uuid:00000000-0000-4000-8000-00000000a002>',
      ]);
      const d = alice.devices.find((x) => x.instance?.endsWith('a001>'))!;
      expect(d.transport).to.equal('WS');
      expect(d.userAgent).to.match(/^JsSIP 3\.13/);
      const contact = a1.wire.find((w) => w.dir === 'out' && w.text.startsWith('REGISTER'))!.text.match(/^Contact: <([^>]+)>/m)![1];
      expect(d.contact).to.equal(contact);
      // JsSIP registers for 600 s.
      expect(Date.parse(d.expiresAt) - Date.parse(d.registeredAt)).to.be.within(599_000, 601_000);
      expect(Date.parse(d.registeredAt)).to.be.at.most(Date.now());
    });

    it('shows a user only its own registrations; anonymous and callers without a token are refused', async () => {
      const own = await clients.alice.get('/registrations');
      expect(own.status).to.equal(200);
      expect(own.body.items.map((r: Registration) => r.user)).to.deep.equal(['alice']);
      expect((await clients.alice.get('/registrations?user=alice')).body.total).to.equal(1);
      expect((await clients.alice.get('/registrations?user=bob')).status).to.equal(403);
      expect((await clients.carol.get('/registrations')).body).to.deep.equal({ total: 0, items: [] });
      expect((await admin.get('/registrations?user=bob')).body.items.map((r: Registration) => r.user)).to.deep.equal(['bob']);
      const { client: anon } = await userClient(srv, 'nobody', 'pw-nobody', 'anonymous');
      expect((await anon.get('/registrations')).status).to.equal(403);
      expect((await admin.get('/registrations', { token: null })).status).to.equal(401);
    });

    it('is described in the OpenAPI document with its filters, as /sapi/calls is', async () => {
      const { paths } = (await admin.get('/openapi.json')).body;
      const params = (p: string) => paths[p].get.parameters.map((q: { name: string }) => q.name);
      expect(params('/sapi/registrations')).to.include.members(['user', 'search', 'order', 'limit', 'offset']);
      expect(params('/sapi/calls')).to.include.members(['user', 'state', 'search', 'order', 'limit', 'offset']);
    });

    it('drops a device that unregisters, and one whose WebSocket closes', async () => {
      const c1 = await ua('carol', '00000000-0000-4000-8000-00000000c001');
      const c2 = await ua('carol', '00000000-0000-4000-8000-00000000c002');
      await devicesOf('carol', (d) => d.length === 2, 'carol with 2 devices');
      await c1.unregister();
      const left = await devicesOf('carol', (d) => d.length === 1, 'carol down to 1 device');
      expect(left[0].instance).to.equal('<urn:uuid:00000000-0000-4000-8000-00000000c002>');
      c2.kill();
      await getUntil(admin, '/registrations?user=carol', (b) => b.total === 0, 'carol gone');
    });

    it('shows a UDP device with its User-Agent, moves its expiry on a refresh, and drops it once expired', async () => {
      const peer = await UdpPeer.open();
      try {
        const callId = rnd();
        const register = async (cseq: number, expires: number): Promise<void> => {
          const send = (auth?: string) => peer.send([
            'REGISTER sip:wac.local SIP/2.0',
            `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
            'Max-Forwards: 70',
            `From: <sip:dave@wac.local>;tag=${rnd()}`,
            'To: <sip:dave@wac.local>',
            `Call-ID: ${callId}`,
            `CSeq: ${auth ? cseq + 1 : cseq} REGISTER`,
            `Contact: <sip:dave@127.0.0.1:${peer.port}>;expires=${expires}`,
            'User-Agent: udp-phone/1.0',
            ...(auth ? [`Authorization: ${auth}`] : []),
            'Content-Length: 0', '', '',
          ].join('\r\n'), srv.sipPort);
          send();
          const challenge = await peer.response();
          send(digestAnswer(challenge.get('www-authenticate')!, 'dave', 'pw-dave', 'REGISTER', 'sip:wac.local'));
          expect((await peer.response()).status).to.equal(200);
        };
        await register(1, 2);
        const [first] = await devicesOf('dave', (d) => d.length === 1, 'dave registered over UDP');
        expect(first).to.include({ transport: 'UDP', contact: `sip:dave@127.0.0.1:${peer.port}`, instance: null, userAgent: 'udp-phone/1.0' });
        await register(3, 3);
        const [refreshed] = await devicesOf('dave', (d) => Date.parse(d[0]?.expiresAt) > Date.parse(first.expiresAt), 'the refreshed expiry');
        expect(refreshed.registeredAt).to.equal(first.registeredAt);
        // Past the first expiry the refreshed device is still there...
        await waitUntil(() => Date.now() > Date.parse(first.expiresAt) + 100, 3000, 'the first expiry to pass');
        expect((await admin.get('/registrations?user=dave')).body.total).to.equal(1);
        // ...and past its own it is gone, although nothing unregistered it.
        await getUntil(admin, '/registrations?user=dave', (b) => b.total === 0, 'dave expired', 5000);
        expect(Date.now()).to.be.above(Date.parse(refreshed.expiresAt));
      } finally {
        peer.close();
      }
    });
  });
}
