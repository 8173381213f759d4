/** Mocha hooks shared by the suites that drive JsSIP and SIP.js against one test server. */
import { adminClient, type ApiClient } from './api';
import { stopAllJsSipUas } from './jssip';
import { startTestServer, type TestServer } from './server';
import { stopAllSipJsUas } from './sipjs';

/** A test server and an admin client for the suite; every UA is stopped after each test. */
export function clientSuite(ready: (suite: { srv: TestServer; api: ApiClient }) => void, opts?: Parameters<typeof startTestServer>[0]): void {
  let srv: TestServer | undefined;
  before(async () => {
    srv = await startTestServer(opts);
    ready({ srv, api: await adminClient(srv) });
  });
  after(async () => {
    await srv?.close();
  });
  afterEach(async () => {
    await Promise.all([stopAllJsSipUas(), stopAllSipJsUas()]);
  });
}
