import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { EmbeddedStore } from '../../shared/store/embedded';
import { Users } from '../../shared/model/users';

const ROOT = path.resolve(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('npm start (embedded store, no Redis)', function () {
  this.timeout(90_000);
  let child: ChildProcess | undefined;
  let dir: string;
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds, starts from wac.ini, serves REGISTER from JsSIP and the built /phone and /console pages', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-start-'));
    const [wsPort, sipPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const ini = fs.readFileSync(path.join(ROOT, 'wac.ini'), 'utf8')
      .replace(/^ws_port = .*$/m, `ws_port = ${wsPort}`).replace(/^sip_port = .*$/m, `sip_port = ${sipPort}`)
      .replace(/^admin_port = .*$/m, `admin_port = ${adminPort}`).replace(/^dir = .*$/m, `dir = ${dir}/data`);
    fs.writeFileSync(path.join(dir, 'wac.ini'), ini);
    // Users are provisioned through the store module until the admin API exists.
    const store = await EmbeddedStore.open(`${dir}/data`);
    await new Users(store).create({ domain: 'wac.local', username: 'alice', password: 'secret' });
    await store.close();

    child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, WAC_INI: path.join(dir, 'wac.ini') }, stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that npm and the server it starts are stopped together.
      detached: true });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 80_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        // Logged once both the signaling and the admin port (API and pages) listen.
        if (out.includes('admin API listening')) {
          clearTimeout(t);
          resolve();
        }
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', onData);
      child!.once('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)));
    });
    const line = out.split('\n').find((l) => l.includes('signaling listening'))!;
    expect(JSON.parse(line)).to.include({ wsPort, sipPort });

    (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const JsSIP = require('jssip');
    JsSIP.debug.disable('JsSIP:*');
    const ua = new JsSIP.UA({
      uri: 'sip:alice@wac.local', password: 'secret', register: true,
      sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${wsPort}`)],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no registration within 5 s')), 5000);
        ua.on('registered', () => { clearTimeout(t); resolve(); });
        ua.on('registrationFailed', (e: { cause: string }) => { clearTimeout(t); reject(new Error(e.cause)); });
        ua.start();
      });
    } finally {
      ua.stop();
    }
    // The compiled server finds the pages npm start built into dist/web.
    const page = await fetch(`http://127.0.0.1:${adminPort}/phone/`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('main.js');
    expect((await fetch(`http://127.0.0.1:${adminPort}/phone/main.js`)).status).to.equal(200);
    expect(await (await fetch(`http://127.0.0.1:${adminPort}/phone/config.json`)).json()).to.deep.equal({ wsUrl: `ws://127.0.0.1:${wsPort}`, domain: 'wac.local' });
    expect((await fetch(`http://127.0.0.1:${adminPort}/console/main.js`)).status).to.equal(200);
    const exited = new Promise<[number | null, string | null]>((r) => child!.once('exit', (code, sig) => r([code, sig])));
    process.kill(-child.pid!, 'SIGTERM');
    const [code, sig] = await exited;
    expect(code === 0 || sig === 'SIGTERM', `exit ${code} ${sig}`).to.equal(true);
  });
});
