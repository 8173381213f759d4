/** GET /sapi/calls from real JsSIP calls over WebSocket, on the embedded store and on Redis. */
import { expect } from 'chai';
import { ApiClient, adminClient, getUntil, userClient } from '../support/api';
import { createJsSipUa, stopAllJsSipUas, type JsSipUa } from '../support/jssip';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

interface Call {
  id: string;
  callId: string;
  kind: string;
  caller: string;
  callee: string;
  state: 'ringing' | 'answered';
  answeredBy: string | null;
  parties: string[];
  start: string;
  answer: string | null;
}

for (const backend of BACKENDS) {
  describe(`/sapi/calls from real JsSIP calls (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    const ids: Record<string, string> = {};
    const clients: Record<string, ApiClient> = {};
    const uas: Record<string, JsSipUa> = {};

    before(async function () {
      srv = await startServerOn(backend, this);
      admin = await adminClient(srv);
      for (const name of ['ann', 'ben', 'cat']) {
        const { client, id } = await userClient(srv, name, `pw-${name}`);
        ids[name] = id;
        clients[name] = client;
        uas[name] = await createJsSipUa({ server: srv, username: name, password: `pw-${name}` });
      }
    });
    after(async () => {
      await stopAllJsSipUas();
      await srv?.close();
    });

    /** The call with this Call-ID as the admin sees it, once `done` holds for it. */
    const callUntil = async (callId: string, done: (c: Call | undefined) => boolean, what: string): Promise<Call> => {
      const body = await getUntil(admin, '/calls', (b) => done(b.items.find((c: Call) => c.callId === callId)), what);
      return body.items.find((c: Call) => c.callId === callId);
    };

    it('shows a call ringing, then answered, until its BYE; to its parties and the admin only', async () => {
      const out = uas.ann.call('ben');
      const inc = await uas.ben.nextIncoming();
      await out.progress();
      const ringing = await callUntil(out.callId, (c) => c?.state === 'ringing', 'the call ringing');
      expect(ringing).to.include({ kind: 'direct', caller: ids.ann, callee: ids.ben, answeredBy: null, answer: null });
      expect(ringing.parties).to.have.members([ids.ann, ids.ben]);
      for (const name of ['ann', 'ben']) {
        expect((await clients[name].get('/calls')).body.items.map((c: Call) => c.callId), name).to.deep.equal([out.callId]);
      }
      expect((await clients.cat.get('/calls')).body).to.deep.equal({ total: 0, items: [] });

      await inc.answer();
      await out.confirmed();
      const answered = await callUntil(out.callId, (c) => c?.state === 'answered', 'the call answered');
      expect(answered).to.include({ id: ringing.id, answeredBy: ids.ben, start: ringing.start });
      expect(Date.parse(answered.answer!)).to.be.at.least(Date.parse(answered.start));
      expect((await admin.get('/calls?state=ringing')).body.total).to.equal(0);
      expect((await admin.get(`/calls?state=answered&user=${ids.ben}`)).body.items.map((c: Call) => c.id)).to.deep.equal([ringing.id]);

      out.terminate();
      await inc.ended();
      await callUntil(out.callId, (c) => c === undefined, 'the call gone after its BYE');
      // The call's record carries the same id.
      const cdrs = await getUntil(admin, '/cdrs', (b) => b.items.some((c: Call) => c.callId === out.callId), 'the call record');
      expect(cdrs.items.find((c: Call) => c.callId === out.callId).id).to.equal(ringing.id);
    });

    it('shows a group call with the group as callee, answered by the participant who took it', async () => {
      const group = await clients.ann.post('/usersgroups', { name: 'Support', participants: [ids.ben, ids.cat] });
      expect(group.status, JSON.stringify(group.body)).to.equal(201);
      const out = uas.ann.call(group.body.id);
      const [benLeg, catLeg] = await Promise.all([uas.ben.nextIncoming(), uas.cat.nextIncoming()]);
      const ringing = await callUntil(out.callId, (c) => c?.state === 'ringing', 'the group call ringing');
      expect(ringing).to.include({ kind: 'group', caller: ids.ann, callee: group.body.id, answeredBy: null });

      await catLeg.answer();
      await out.confirmed();
      await benLeg.failed();
      const answered = await callUntil(out.callId, (c) => c?.state === 'answered', 'the group call answered');
      expect(answered).to.include({ callee: group.body.id, answeredBy: ids.cat });
      expect((await clients.cat.get('/calls')).body.items.map((c: Call) => c.id)).to.deep.equal([ringing.id]);

      catLeg.terminate();
      await out.ended();
      await callUntil(out.callId, (c) => c === undefined, 'the group call gone after its BYE');
    });

    it('refuses anonymous, callers without a token, another user\'s calls and bad filters', async () => {
      const { client: anon } = await userClient(srv, 'nobody', 'pw-nobody', 'anonymous');
      expect((await anon.get('/calls')).status).to.equal(403);
      expect((await admin.get('/calls', { token: null })).status).to.equal(401);
      expect((await clients.ann.get(`/calls?user=${ids.ben}`)).status).to.equal(403);
      expect((await clients.ann.get(`/calls?user=${ids.ann}`)).status).to.equal(200);
      const bad = await admin.get('/calls?state=over');
      expect(bad.status).to.equal(400);
      expect(bad.body.error.message).to.match(/^state: /);
    });
  });
}
