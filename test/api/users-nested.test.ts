import { expect } from 'chai';
import { ApiClient, adminClient } from '../support/api';
import { createJsSipUa, stopAllJsSipUas } from '../support/jssip';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

for (const backend of BACKENDS) {
  describe(`POST /sapi/users with nested credentials, sipMappings and groups (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    let groupId: string;
    before(async function () {
      srv = await startServerOn(backend, this);
      admin = await adminClient(srv);
      const g = await admin.post('/usersgroups', { name: 'sales' });
      expect(g.status).to.equal(201);
      groupId = g.body.id;
    });
    afterEach(() => stopAllJsSipUas());
    after(async () => {
      await srv?.close();
    });

    /** Everything a failed creation could have left behind. */
    async function snapshot() {
      const [users, creds, maps, group] = await Promise.all([
        admin.get('/users?limit=1000'), admin.get('/credentials?limit=1000'), admin.get('/sipMappings?limit=1000'), admin.get(`/usersgroups/${groupId}`),
      ]);
      return { users: users.body, creds: creds.body, maps: maps.body, participants: group.body.participants };
    }

    it('creates everything in one step, and the user registers from JsSIP with that password', async () => {
      const r = await admin.post('/users', {
        username: 'dora', email: 'dora@example.org',
        credentials: [{ type: 'basic', data: { password: 'dora-pw' } }],
        sipMappings: [{ credential: { username: '205' } }],
        groups: [{ id: groupId }],
      });
      expect(r.status).to.equal(201);
      expect(r.body.username).to.equal('dora');
      expect(r.body.credentials).to.have.length(1);
      expect(r.body.sipMappings[0]).to.include({ ownerUri: `wac-user:${r.body.id}` });
      expect(r.body.groups).to.deep.equal([groupId]);
      expect(JSON.stringify(r.body)).to.not.contain('dora-pw');
      expect((await admin.get(`/usersgroups/${groupId}`)).body.participants).to.include(r.body.id);
      expect((await admin.get(`/sipMappings?owner=wac-user:${r.body.id}`)).body.total).to.equal(1);

      const ua = await createJsSipUa({ server: srv, username: 'dora', password: 'dora-pw' });
      expect(ua.isRegistered()).to.equal(true);
      expect(await srv.bindings('dora')).to.equal(1);
    });

    it('rolls back completely when a part fails, naming the failing part', async () => {
      const before = await snapshot();
      const cases: Array<[object, number, string]> = [
        [{ username: 'eve', sipMappings: [{ credential: { username: '205' } }] }, 409, 'sipMappings[0]'],
        [{ username: 'eve', groups: [{ id: 'no-such-group' }] }, 404, 'groups[0]'],
        [{ username: 'eve', credentials: [{ type: 'basic', data: { password: 'x' } }, { type: 'basic', data: { password: 'y' } }] }, 400, 'credentials'],
        [{ username: 'eve', sipMappings: [{ credential: { username: '300' } }, { credential: { username: '300' } }] }, 400, 'sipMappings'],
        [{ username: 'eve', credentials: [{ type: 'basic', data: {} }] }, 400, 'credentials.0.data.password'],
        [{ username: 'dora', credentials: [{ type: 'basic', data: { password: 'z' } }], sipMappings: [{ credential: { username: '301' } }] }, 409, 'username'],
      ];
      for (const [body, status, part] of cases) {
        const r = await admin.post('/users', body);
        expect(r.status, JSON.stringify(body)).to.equal(status);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(part);
      }
      expect(await snapshot()).to.deep.equal(before);
    });
  });
}
