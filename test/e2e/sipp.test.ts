/**
 * SIPp as a real UDP peer: a SIPp registers `bob` with digest (Contact = its own 127.0.0.1:port),
 * a SIPp UAS then answers on that same port, and a SIPp UAC authenticated as `alice` (the proxy
 * challenges the INVITE with 407) calls bob through the server: 100/180/200, ACK, BYE, 200.
 * Both ends must exit 0 with one successful call each.
 */
import fs from 'node:fs';
import { expect } from 'chai';
import { startTestServer, TestServer } from '../support/server';
import {
  describeRun, findSipp, freeUdpPort, killAllSipp, makeWorkDir, sippVersion, startSipp, statCount, waitListening,
} from '../support/sipp';

const DOMAIN_USERS = { alice: 'alice-Secret-1', bob: 'bob-Secret-2' };
/** Each sipp gives up (and fails) after this many seconds. */
const SIPP_TIMEOUT_S = 20;

describe('SIPp over UDP through the registrar and proxy', function () {
  this.timeout(60000);
  let sipp: string;
  let server: TestServer;
  let dir: string;
  let uasPort: number;
  let registered = false;

  before(async function () {
    const bin = findSipp();
    if (!bin) {
      if (process.env.CI) throw new Error('sipp is not installed (Debian package sip-tester); CI must install it (.ci/setup)');
      console.warn('    sipp not installed (Debian package sip-tester): skipping the SIPp tests; under CI this fails');
      this.skip();
      return;
    }
    sipp = bin;
    expect(sippVersion(sipp), 'sipp -v').to.match(/SIPp v\d/);
    dir = makeWorkDir();
    server = await startTestServer();
    for (const [user, password] of Object.entries(DOMAIN_USERS)) await server.addUser(user, password);
    uasPort = await freeUdpPort();
  });

  afterEach(() => killAllSipp());

  after(async () => {
    killAllSipp();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a SIPp registers bob with digest authentication', async () => {
    const reg = await startSipp(sipp, dir, {
      name: 'register', scenario: 'register.xml', remote: `127.0.0.1:${server.sipPort}`, localPort: uasPort,
      authUri: server.domain,
      injection: `SEQUENTIAL\nbob;${server.domain};[authentication username=bob password=${DOMAIN_USERS.bob}]\n`,
      timeoutS: SIPP_TIMEOUT_S,
    });
    const r = await reg.done;
    expect(r.code, describeRun(r)).to.equal(0);
    expect(statCount(r.stats, 'SuccessfulCall(C)'), describeRun(r)).to.equal(1);
    expect(statCount(r.stats, 'FailedCall(C)'), describeRun(r)).to.equal(0);
    expect(await server.bindings('bob'), 'bindings of bob after the SIPp REGISTER').to.equal(1);
    registered = true;
  });

  it('a SIPp UAC (answering 407) calls bob and the SIPp UAS answers', async function () {
    if (!registered) this.skip();
    const uas = await startSipp(sipp, dir, {
      name: 'uas', scenario: 'uas_answer.xml', remote: `127.0.0.1:${server.sipPort}`, localPort: uasPort,
      timeoutS: SIPP_TIMEOUT_S,
    });
    expect(await waitListening(uasPort), 'the SIPp UAS never bound its port').to.equal(true);
    const uac = await startSipp(sipp, dir, {
      name: 'uac', scenario: 'uac_auth_call.xml', remote: `127.0.0.1:${server.sipPort}`, localPort: await freeUdpPort(),
      service: 'bob', authUri: `bob@${server.domain}`,
      injection: `SEQUENTIAL\nalice;${server.domain};[authentication username=alice password=${DOMAIN_USERS.alice}]\n`,
      timeoutS: SIPP_TIMEOUT_S,
    });
    const [c, a] = await Promise.all([uac.done, uas.done]);
    expect(c.code, describeRun(c)).to.equal(0);
    expect(statCount(c.stats, 'SuccessfulCall(C)'), describeRun(c)).to.equal(1);
    expect(statCount(c.stats, 'FailedCall(C)'), describeRun(c)).to.equal(0);
    expect(a.code, describeRun(a)).to.equal(0);
    expect(statCount(a.stats, 'SuccessfulCall(C)'), describeRun(a)).to.equal(1);
    expect(statCount(a.stats, 'FailedCall(C)'), describeRun(a)).to.equal(0);
  });
});
