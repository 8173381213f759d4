import { expect } from 'chai';
import { adminClient, newAccount, type ApiClient } from '../support/api';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

for (const backend of BACKENDS) {
  describe(`deleting an owner returns its SIP identities to the pool (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    before(async function () {
      srv = await startServerOn(backend, this);
      admin = await adminClient(srv);
    });
    after(async () => {
      await srv?.close();
    });

    for (const kind of ['user', 'group'] as const) {
      it(`a deleted ${kind}'s mapping is gone and its SIP username can be mapped again`, async () => {
        const owner = kind === 'user'
          ? (await newAccount(admin, 'owner')).id
          : (await admin.post('/usersgroups', { name: 'to-delete' })).body.id;
        const ownerUri = `wac-${kind}:${owner}`;
        const number = kind === 'user' ? '401' : '402';
        // The search also matches owner URIs, whose random ids may contain the number.
        const mapped = async () => ((await admin.get(`/sipMappings?search=${number}`)).body.items as Array<{ credential: { username: string } }>)
          .filter((m) => m.credential.username === number).length;
        expect((await admin.post('/sipMappings', { ownerUri, credential: { username: number } })).status).to.equal(201);
        expect(await mapped()).to.equal(1);
        expect((await admin.del(kind === 'user' ? `/users/${owner}` : `/usersgroups/${owner}`)).status).to.equal(204);
        expect((await admin.get(`/sipMappings?owner=${ownerUri}`)).body.total).to.equal(0);
        expect(await mapped()).to.equal(0);
        const other = await newAccount(admin, 'next');
        expect((await admin.post('/sipMappings', { ownerUri: `wac-user:${other.id}`, credential: { username: number } })).status).to.equal(201);
      });
    }
  });
}
