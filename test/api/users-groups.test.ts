import { expect } from 'chai';
import { ChatGroup, Groups } from '../../shared/model/groups';
import { commit, mergePlans } from '../../shared/model/plan';
import { keys } from '../../shared/store/keys';
import { ApiClient, adminClient, userClient } from '../support/api';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

const PARTICIPANT_MISSING = 'Specified participant does not exist';
const notOwner = (id: string) => `User ${id} is not the owner of the group`;

for (const backend of BACKENDS) {
  describe(`/sapi/usersgroups (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    let adminId: string;
    const c: Record<string, ApiClient> = {};
    const id: Record<string, string> = {};

    before(async function () {
      srv = await startServerOn(backend, this);
      admin = await adminClient(srv);
      adminId = (await admin.get('/users/me')).body.id;
      for (const name of ['alice', 'bob', 'carol', 'dave']) {
        const u = await userClient(srv, name, `${name}-pw`);
        c[name] = u.client;
        id[name] = u.id;
      }
      const anon = await userClient(srv, 'anon', 'anon-pw', 'anonymous');
      c.anon = anon.client;
      id.anon = anon.id;
    });
    after(async () => {
      await srv?.close();
    });

    const groups = () => new Groups(srv.wac.store);
    const chat = (chatId: string): Promise<ChatGroup | null> => groups().getChat(chatId);
    const memberships = (userId: string) => srv.wac.store.smembers(keys.userGroups(userId));
    /** Everything the group feature stores, to prove a failed request changed nothing. */
    const snapshot = async () => {
      const store = srv.wac.store;
      const names = (await Promise.all(['usersgroup:', 'chatgroup:', 'user-groups:', 'rev:usersgroup:', 'user-owned-groups:'].map((p) => store.keys(p)))).flat().sort();
      const out: Record<string, unknown> = {};
      for (const k of names) out[k] = k.startsWith('user-groups:') || k.startsWith('user-owned-groups:') ? (await store.smembers(k)).sort() : await store.get(k);
      out['index:usersgroup'] = (await store.smembers('index:usersgroup')).sort();
      out['index:chatgroup'] = (await store.smembers('index:chatgroup')).sort();
      return out;
    };
    const create = async (client: ApiClient, body: object) => {
      const r = await client.post('/usersgroups', body);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return r.body as { id: string; name: string; owner: string; participants: string[]; chatId: string };
    };

    describe('create', () => {
      it('makes the caller the owner and first participant, with a chat group of the same name', async () => {
        const r = await c.alice.post('/usersgroups', { name: 'Sales', participants: [id.bob] });
        expect(r.status).to.equal(201);
        expect(r.headers.get('location')).to.equal(`/sapi/usersgroups/${r.body.id}`);
        expect(r.body).to.include({ name: 'Sales', owner: id.alice });
        expect(r.body.participants).to.deep.equal([id.alice, id.bob]);
        expect(r.body).to.have.all.keys('id', 'name', 'owner', 'participants', 'chatId', 'createdAt', 'updatedAt');
        expect(await chat(r.body.chatId)).to.deep.include({ id: r.body.chatId, name: 'Sales', groupId: r.body.id, members: [id.alice, id.bob] });
        expect(await memberships(id.bob)).to.include(r.body.id);
        expect((await c.bob.get(`/usersgroups/${r.body.id}`)).body).to.deep.equal(r.body);
      });

      it('lets an admin create a group (it becomes the owner); duplicates in participants count once', async () => {
        const g = await create(admin, { name: 'Ops', participants: [id.carol, id.carol] });
        expect(g.owner).to.equal(adminId);
        expect(g.participants).to.deep.equal([adminId, id.carol]);
      });

      it('refuses a participant that is not a user with 404 "Specified participant does not exist", creating nothing', async () => {
        const before = await snapshot();
        for (const participants of [['no-such-user'], [id.bob, 'no-such-user']]) {
          const r = await c.alice.post('/usersgroups', { name: 'Ghosts', participants });
          expect(r.status).to.equal(404);
          expect(r.body.error).to.include({ code: 'not_found', message: PARTICIPANT_MISSING });
        }
        expect(await snapshot()).to.deep.equal(before);
      });

      it('answers 400 naming the field for a malformed body', async () => {
        const before = await snapshot();
        const cases: Array<[unknown, string]> = [
          [{}, 'name'],
          [{ name: '' }, 'name'],
          [{ name: '   ' }, 'name'],
          [{ name: 42 }, 'name'],
          [{ name: 'x'.repeat(129) }, 'name'],
          [{ name: 'G', participants: 'bob' }, 'participants'],
          [{ name: 'G', participants: [1] }, 'participants'],
          [{ name: 'G', owner: id.bob }, 'owner'],
        ];
        for (const [body, field] of cases) {
          const r = await c.alice.post('/usersgroups', body);
          expect(r.status, JSON.stringify(body)).to.equal(400);
          expect(r.body.error.code).to.equal('invalid_request');
          expect(r.body.error.message, JSON.stringify(body)).to.contain(field);
        }
        expect(await snapshot()).to.deep.equal(before);
      });

      it('refuses anonymous (403) and callers without a token (401)', async () => {
        expect((await c.anon.post('/usersgroups', { name: 'Anon' })).status).to.equal(403);
        expect((await c.anon.get('/usersgroups')).status).to.equal(403);
        expect((await c.alice.post('/usersgroups', { name: 'X' }, { token: null })).status).to.equal(401);
        expect((await c.alice.get('/usersgroups', { token: 'not.a.jwt' })).status).to.equal(401);
      });
    });

    describe('read', () => {
      let mine: { id: string };
      before(async () => {
        mine = await create(c.dave, { name: 'Dave only' });
      });

      it('lists all groups for an admin, owned or joined ones for a user', async () => {
        const all = (await admin.get('/usersgroups?limit=1000')).body;
        expect(all.total).to.equal(all.items.length);
        expect(all.items.map((g: { id: string }) => g.id)).to.include(mine.id);
        const dave = (await c.dave.get('/usersgroups')).body;
        expect(dave.items.map((g: { name: string }) => g.name)).to.deep.equal(['Dave only']);
        const carol = (await c.carol.get('/usersgroups')).body.items.map((g: { name: string }) => g.name);
        expect(carol).to.include('Ops');
        expect(carol).to.not.include('Dave only');
        expect(carol).to.not.include('Sales');
      });

      it('filters, searches, orders and pages like every list', async () => {
        await create(c.dave, { name: 'Árbol' });
        await create(c.dave, { name: 'Zeta' });
        const asc = (await c.dave.get('/usersgroups?order=name')).body;
        expect(asc.items.map((g: { name: string }) => g.name)).to.deep.equal(['Árbol', 'Dave only', 'Zeta']);
        const page = (await c.dave.get('/usersgroups?order=name&direction=desc&limit=1&offset=1')).body;
        expect(page).to.deep.include({ total: 3 });
        expect(page.items.map((g: { name: string }) => g.name)).to.deep.equal(['Dave only']);
        expect((await c.dave.get('/usersgroups?search=arbol')).body.items.map((g: { name: string }) => g.name)).to.deep.equal(['Árbol']);
        expect((await admin.get(`/usersgroups?owner=${id.dave}`)).body.total).to.equal(3);
        expect((await c.dave.get('/usersgroups?order=owner')).status).to.equal(400);
        expect((await c.dave.get('/usersgroups?participant=maybe')).status).to.equal(400);
      });

      it('participant=true lists only the groups the caller participates in', async () => {
        const g = await create(c.dave, { name: 'Left by owner', participants: [id.carol] });
        expect((await c.dave.del(`/usersgroups/${g.id}/participants/${id.dave}`)).status).to.equal(200);
        const owned = (await c.dave.get('/usersgroups')).body.items.map((x: { id: string }) => x.id);
        const joined = (await c.dave.get('/usersgroups?participant=true')).body.items.map((x: { id: string }) => x.id);
        expect(owned).to.include(g.id);
        expect(joined).to.not.include(g.id);
        expect(joined).to.include(mine.id);
        // The owner still manages it.
        expect((await c.dave.put(`/usersgroups/${g.id}`, { name: 'Still mine' })).status).to.equal(200);
        expect((await admin.get('/usersgroups?participant=true')).body.items.every((x: { participants: string[] }) => x.participants.includes(adminId))).to.equal(true);
      });

      it('gets a group for an admin, the owner or a participant only', async () => {
        const g = await create(c.dave, { name: 'Readers', participants: [id.bob] });
        expect((await c.dave.get(`/usersgroups/${g.id}`)).status).to.equal(200);
        expect((await c.bob.get(`/usersgroups/${g.id}`)).status).to.equal(200);
        expect((await admin.get(`/usersgroups/${g.id}`)).status).to.equal(200);
        expect((await c.bob.get(`/usersgroups/${g.id}/participants`)).body).to.deep.equal([id.dave, id.bob]);
        const r = await c.carol.get(`/usersgroups/${g.id}`);
        expect(r.status).to.equal(403);
        expect(r.body.error.code).to.equal('forbidden');
        expect((await c.carol.get(`/usersgroups/${g.id}/participants`)).status).to.equal(403);
        const missing = await admin.get('/usersgroups/no-such-group');
        expect(missing.status).to.equal(404);
        expect(missing.body.error.message).to.contain('no-such-group');
      });
    });

    describe('owner rules and the chat group', () => {
      let g: { id: string; chatId: string };
      beforeEach(async () => {
        g = await create(c.alice, { name: 'Team', participants: [id.bob] });
      });

      it('lets the owner rename; the chat group is renamed at once', async () => {
        const r = await c.alice.put(`/usersgroups/${g.id}`, { name: 'Team A' });
        expect(r.status).to.equal(200);
        expect(r.body).to.include({ name: 'Team A', owner: id.alice });
        expect((await chat(g.chatId))!.name).to.equal('Team A');
        expect((await c.bob.get(`/usersgroups/${g.id}`)).body.name).to.equal('Team A');
      });

      it('refuses a participant or another user with 403 "User <id> is not the owner of the group", changing nothing', async () => {
        const before = await snapshot();
        const attempts: Array<[string, () => Promise<{ status: number; body: any }>]> = [
          ['bob', () => c.bob.put(`/usersgroups/${g.id}`, { name: 'Hijacked' })],
          ['bob', () => c.bob.put(`/usersgroups/${g.id}`, { participants: [id.bob] })],
          ['bob', () => c.bob.post(`/usersgroups/${g.id}/participants`, { userId: id.carol })],
          ['bob', () => c.bob.del(`/usersgroups/${g.id}/participants/${id.alice}`)],
          ['bob', () => c.bob.del(`/usersgroups/${g.id}`)],
          ['carol', () => c.carol.put(`/usersgroups/${g.id}`, { name: 'Hijacked' })],
          ['carol', () => c.carol.post(`/usersgroups/${g.id}/participants`, { userId: id.carol })],
          ['carol', () => c.carol.del(`/usersgroups/${g.id}`)],
        ];
        for (const [who, attempt] of attempts) {
          const r = await attempt();
          expect(r.status, who).to.equal(403);
          expect(r.body.error).to.deep.equal({ code: 'forbidden', message: notOwner(id[who]) });
        }
        expect(await snapshot()).to.deep.equal(before);
      });

      it('never changes the owner (owner is not an accepted field)', async () => {
        const r = await c.alice.put(`/usersgroups/${g.id}`, { owner: id.bob });
        expect(r.status).to.equal(400);
        expect(r.body.error.message).to.contain('owner');
        expect((await c.alice.get(`/usersgroups/${g.id}`)).body.owner).to.equal(id.alice);
      });

      it('lets an admin rename, change participants and delete any group', async () => {
        expect((await admin.put(`/usersgroups/${g.id}`, { name: 'By admin', participants: [id.carol] })).body).to.deep.include({ name: 'By admin', owner: id.alice, participants: [id.carol] });
        expect((await admin.post(`/usersgroups/${g.id}/participants`, { userId: id.dave })).body.participants).to.deep.equal([id.carol, id.dave]);
        expect((await admin.del(`/usersgroups/${g.id}/participants/${id.carol}`)).body.participants).to.deep.equal([id.dave]);
        expect(await chat(g.chatId)).to.deep.include({ name: 'By admin', members: [id.dave] });
        expect((await admin.del(`/usersgroups/${g.id}`)).status).to.equal(204);
        expect(await chat(g.chatId)).to.equal(null);
      });

      it('replaces the participants; chat members and memberships follow at once', async () => {
        const r = await c.alice.put(`/usersgroups/${g.id}`, { participants: [id.carol, id.dave] });
        expect(r.status).to.equal(200);
        expect(r.body.participants).to.deep.equal([id.carol, id.dave]);
        expect((await chat(g.chatId))!.members).to.deep.equal([id.carol, id.dave]);
        expect(await memberships(id.bob)).to.not.include(g.id);
        expect(await memberships(id.alice)).to.not.include(g.id);
        expect(await memberships(id.carol)).to.include(g.id);
        expect((await groups().chatsForUser(id.carol)).map((x) => x.id)).to.include(g.chatId);
        expect((await c.bob.get(`/usersgroups/${g.id}`)).status).to.equal(403);
        expect((await c.carol.get('/usersgroups?participant=true')).body.items.map((x: { id: string }) => x.id)).to.include(g.id);
      });

      it('refuses unknown participants with 404 "Specified participant does not exist", leaving group and chat untouched', async () => {
        const before = await snapshot();
        const put = await c.alice.put(`/usersgroups/${g.id}`, { name: 'Renamed', participants: [id.carol, 'ghost'] });
        expect(put.status).to.equal(404);
        expect(put.body.error).to.include({ code: 'not_found', message: PARTICIPANT_MISSING });
        const add = await c.alice.post(`/usersgroups/${g.id}/participants`, { userId: 'ghost' });
        expect(add.status).to.equal(404);
        expect(add.body.error).to.include({ code: 'not_found', message: PARTICIPANT_MISSING });
        expect(await snapshot()).to.deep.equal(before);
      });

      it('adds and removes single participants; the chat group follows', async () => {
        const add = await c.alice.post(`/usersgroups/${g.id}/participants`, { userId: id.carol });
        expect(add.status).to.equal(200);
        expect(add.body.participants).to.deep.equal([id.alice, id.bob, id.carol]);
        expect((await chat(g.chatId))!.members).to.deep.equal([id.alice, id.bob, id.carol]);
        expect((await c.carol.get(`/usersgroups/${g.id}`)).status).to.equal(200);

        const again = await c.alice.post(`/usersgroups/${g.id}/participants`, { userId: id.carol });
        expect(again.status).to.equal(409);
        expect((await c.alice.post(`/usersgroups/${g.id}/participants`, { user: id.carol })).status).to.equal(400);

        const del = await c.alice.del(`/usersgroups/${g.id}/participants/${id.bob}`);
        expect(del.status).to.equal(200);
        expect(del.body.participants).to.deep.equal([id.alice, id.carol]);
        expect((await chat(g.chatId))!.members).to.deep.equal([id.alice, id.carol]);
        expect(await memberships(id.bob)).to.not.include(g.id);
        const notThere = await c.alice.del(`/usersgroups/${g.id}/participants/${id.bob}`);
        expect(notThere.status).to.equal(404);
        expect((await c.alice.post('/usersgroups/no-such-group/participants', { userId: id.bob })).status).to.equal(404);
      });

      it('lets a participant leave by removing itself', async () => {
        const r = await c.bob.del(`/usersgroups/${g.id}/participants/${id.bob}`);
        expect(r.status).to.equal(200);
        expect(r.body.participants).to.deep.equal([id.alice]);
        expect((await chat(g.chatId))!.members).to.deep.equal([id.alice]);
      });

      it('deletes (owner): group, chat group and memberships go together', async () => {
        expect((await c.alice.del(`/usersgroups/${g.id}`)).status).to.equal(204);
        expect((await c.alice.get(`/usersgroups/${g.id}`)).status).to.equal(404);
        expect(await chat(g.chatId)).to.equal(null);
        expect(await memberships(id.bob)).to.not.include(g.id);
        expect(await srv.wac.store.smembers('index:chatgroup')).to.not.include(g.chatId);
        expect(await srv.wac.store.keys(`rev:${keys.group(g.id)}:`)).to.deep.equal([]);
        expect((await c.alice.del(`/usersgroups/${g.id}`)).status).to.equal(404);
      });

      it('refuses every REST call on the group\'s chat group with 403 managed_chat', async () => {
        const before = await snapshot();
        const calls = [
          () => c.alice.get(`/chats/${g.chatId}`),
          () => c.alice.put(`/chats/${g.chatId}`, { name: 'x' }),
          () => c.alice.call('PATCH', `/chats/${g.chatId}`, { name: 'x' }),
          () => c.alice.del(`/chats/${g.chatId}`),
          () => c.bob.get(`/chats/${g.chatId}/members`),
          () => admin.post(`/chats/${g.chatId}/members`, { userId: id.carol }),
          () => admin.del(`/chats/${g.chatId}/members/${id.bob}`),
          () => admin.del(`/chats/${g.chatId}`),
        ];
        for (const call of calls) {
          const r = await call();
          expect(r.status).to.equal(403);
          expect(r.body.error).to.deep.equal({
            code: 'managed_chat',
            message: `This chat group belongs to user group ${g.id} and is managed by it`,
            details: { groupId: g.id },
          });
        }
        expect(await snapshot()).to.deep.equal(before);
        expect((await admin.get('/chats/no-such-chat')).status).to.equal(404);
        expect((await admin.get(`/chats/${g.chatId}`, { token: null })).status).to.equal(401);
        await c.alice.del(`/usersgroups/${g.id}`);
        expect((await admin.get(`/chats/${g.chatId}`)).status).to.equal(404);
      });
    });

    it('keeps every concurrent participant change (no lost update)', async () => {
      const extra = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => srv.users.create({ domain: srv.domain, username: `conc${i}` })));
      const g = await create(c.alice, { name: 'Concurrent' });
      const rs = await Promise.all(extra.map((u) => c.alice.post(`/usersgroups/${g.id}/participants`, { userId: u.id })));
      expect(rs.map((r) => r.status)).to.deep.equal(extra.map(() => 200));
      const final = (await c.alice.get(`/usersgroups/${g.id}`)).body;
      expect([...final.participants].sort()).to.deep.equal([id.alice, ...extra.map((u) => u.id)].sort());
      expect([...(await chat(g.chatId))!.members].sort()).to.deep.equal([...final.participants].sort());
      for (const u of extra) expect(await memberships(u.id)).to.deep.equal([g.id]);
      await Promise.all(extra.map((u) => c.alice.del(`/usersgroups/${g.id}/participants/${u.id}`)));
      expect((await chat(g.chatId))!.members).to.deep.equal([id.alice]);
    });

    it('takes a deleted user out of every group and chat group; groups it owned stay, managed by admins', async () => {
      const erin = await userClient(srv, 'erin', 'erin-pw');
      const joined = await create(c.alice, { name: 'With Erin', participants: [erin.id, id.bob] });
      const owned = await create(erin.client, { name: 'Erin owns', participants: [id.bob] });
      expect((await admin.del(`/users/${erin.id}`)).status).to.equal(204);
      expect((await c.alice.get(`/usersgroups/${joined.id}`)).body.participants).to.deep.equal([id.alice, id.bob]);
      expect((await chat(joined.chatId))!.members).to.deep.equal([id.alice, id.bob]);
      const kept = (await admin.get(`/usersgroups/${owned.id}`)).body;
      expect(kept).to.include({ owner: erin.id });
      expect(kept.participants).to.deep.equal([id.bob]);
      expect((await chat(owned.chatId))!.members).to.deep.equal([id.bob]);
      expect(await memberships(erin.id)).to.deep.equal([]);
      expect((await c.bob.put(`/usersgroups/${owned.id}`, { name: 'x' })).status).to.equal(403);
      expect((await admin.del(`/usersgroups/${owned.id}`)).status).to.equal(204);
    });

    it('lets a group be joined in the same write that creates the user (planAddParticipant with newUser)', async () => {
      const g = await create(c.alice, { name: 'Nested' });
      const { user, plan } = srv.users.planCreate({ domain: srv.domain, username: 'nested' });
      await commit(srv.wac.store, mergePlans(plan, await groups().planAddParticipant(g.id, user.id, { newUser: true })));
      expect((await chat(g.chatId))!.members).to.deep.equal([id.alice, user.id]);
      expect(await memberships(user.id)).to.deep.equal([g.id]);
      // Without newUser the user must already exist.
      const ghost = groups().planAddParticipant(g.id, 'ghost');
      let err: unknown;
      try {
        await commit(srv.wac.store, await ghost);
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal(PARTICIPANT_MISSING);
    });

    it('documents the group endpoints in the OpenAPI document', async () => {
      const doc = (await admin.get('/openapi.json')).body;
      expect(doc.paths['/sapi/usersgroups']).to.have.keys('get', 'post');
      expect(doc.paths['/sapi/usersgroups/{id}']).to.have.keys('get', 'put', 'delete');
      expect(doc.paths['/sapi/usersgroups/{id}/participants']).to.have.keys('get', 'post');
      expect(doc.paths['/sapi/usersgroups/{id}/participants/{userId}']).to.have.keys('delete');
    });
  });

  describe(`/sapi/usersgroups without backend[] = UsersGroup (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    before(async function () {
      srv = await startServerOn(backend, this, { usersGroup: false });
      admin = await adminClient(srv);
    });
    after(async () => {
      await srv?.close();
    });

    it('answers 404 service_disabled on every group endpoint, whatever the body', async () => {
      expect(srv.wac.store).to.be.ok;
      const calls = [
        () => admin.get('/usersgroups'),
        () => admin.get('/usersgroups?order=bogus'),
        () => admin.get('/usersgroups/x'),
        () => admin.post('/usersgroups', { name: 'G' }),
        () => admin.post('/usersgroups', { bogus: true }),
        () => admin.put('/usersgroups/x', { name: 'G' }),
        () => admin.del('/usersgroups/x'),
        () => admin.get('/usersgroups/x/participants'),
        () => admin.post('/usersgroups/x/participants', { userId: 'y' }),
        () => admin.del('/usersgroups/x/participants/y'),
      ];
      for (const call of calls) {
        const r = await call();
        expect(r.status).to.equal(404);
        expect(r.body.error.code).to.equal('service_disabled');
        expect(r.body.error.message).to.equal('The UsersGroup service is not enabled (add "backend[] = UsersGroup" and "module = UsersGroup" to wac.ini)');
      }
      expect(await srv.wac.store.keys('usersgroup:')).to.deep.equal([]);
      expect((await admin.get('/usersgroups', { token: null })).status).to.equal(401);
      // Other resources still work.
      expect((await admin.get('/users')).status).to.equal(200);
    });
  });
}
