import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, adminClient } from '../support/api';
import { startRedisOrSkip } from '../support/redis';
import { startTestServer, TestServer } from '../support/server';

/** Every write the API acknowledged must be there after the server (and Redis) restart. */
for (const backend of ['memory', 'redis'] as const) {
  describe(`restart loses no acknowledged write (${backend})`, function () {
    let srv: TestServer | undefined;
    let redis: { url: string; stop(): Promise<void>; restart(): Promise<void> } | undefined;
    let dir: string;
    before(async function () {
      if (backend === 'redis') redis = await startRedisOrSkip(this);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-restart-'));
    });
    after(async () => {
      await srv?.close();
      await redis?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const start = () => startTestServer({ dir, redisUrl: redis?.url });

    it('keeps users, credentials, mappings and groups across a server restart', async () => {
      srv = await start();
      const admin = await adminClient(srv);
      const u = await admin.post('/users', {
        username: 'kim', credentials: [{ type: 'basic', data: { password: 'kim-pw' } }], sipMappings: [{ credential: { username: '777' } }],
      });
      expect(u.status).to.equal(201);
      const g = await admin.post('/usersgroups', { name: 'night-shift', participants: [u.body.id] });
      expect(g.status).to.equal(201);
      const pw = await admin.post('/credentials', { type: 'basic', user: (await srv.users.findByName('wac.local', 'admin'))!.id, data: { password: 'x' } });
      expect(pw.status).to.equal(409);
      await srv.close();
      if (redis) await redis.restart();
      srv = await start();

      const kim = await new ApiClient(srv.adminUrl).login('kim', 'kim-pw');
      expect((await kim.get('/users/me')).body.username).to.equal('kim');
      const admin2 = await adminClient(srv);
      expect((await admin2.get(`/sipMappings?owner=wac-user:${u.body.id}`)).body.items[0].credential.username).to.equal('777');
      expect((await admin2.get(`/usersgroups/${g.body.id}`)).body.participants).to.include(u.body.id);
      expect(await srv.users.digestHa1('wac.local', 'kim')).to.be.a('string');
    });
  });
}
