import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig, parseConfig } from '../../shared/config';

const repoRoot = path.resolve(__dirname, '../..');

function expectConfigError(text: string, ...fragments: string[]): void {
  let message: string | undefined;
  try {
    parseConfig(text, 'test.ini');
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message, 'expected a configuration error').to.be.a('string');
  for (const fragment of [...fragments, 'test.ini']) expect(message).to.contain(fragment);
}

describe('config', () => {
  it('defaults everything for an empty file', () => {
    expect(parseConfig('')).to.deep.equal({
      backend: [],
      server: {
        domain: 'wac.local',
        bind: '127.0.0.1',
        ws_port: 8080,
        sip_port: 5060,
        admin_port: 8001,
        log_level: 'info',
        ws_max_payload: 65536,
        ws_ping_interval: 30,
        udp_io: 'auto',
        ws_io: 'auto',
      },
      registrar: { min_expires: 60, max_expires: 3600, default_expires: 600 },
      proxy: { timer_c: 180 },
      timers: { t1: 500, t2: 4000, t4: 5000 },
      store: { backend: 'memory', dir: './data', redis_url: 'redis://127.0.0.1:6379' },
      auth: { admin_username: 'admin', token_expires: 3600, refresh_expires: 2592000 },
      users: { default_timezone: 'Europe/Madrid', default_locale: 'en-US' },
      groups: { ring_timeout: 30 },
      trunk: {},
      trunks: [],
      usersGroupEnabled: false,
    });
  });

  it('the shipped wac.ini states the defaults and enables UsersGroup', () => {
    const shipped = loadConfig(path.join(repoRoot, 'wac.ini'));
    const { backend, module, usersGroupEnabled, ...rest } = shipped;
    expect(backend).to.deep.equal(['UsersGroup']);
    expect(module).to.equal('UsersGroup');
    expect(usersGroupEnabled).to.equal(true);
    const { backend: _b, usersGroupEnabled: _u, ...defaults } = parseConfig('');
    expect(rest).to.deep.equal(defaults);
  });

  it('reads every key', () => {
    const config = parseConfig(`
backend[] = UsersGroup
backend[] = Other
module = UsersGroup
[server]
domain = example.org
bind = 0.0.0.0
ws_port = 0
sip_port = 0
admin_port = 65535
tls_cert = /etc/cert.pem
tls_key = /etc/key.pem
log_level = silent
ws_max_payload = 1024
ws_ping_interval = 5
udp_io = node
ws_io = node
[registrar]
min_expires = 30
max_expires = 7200
default_expires = 3600
[proxy]
timer_c = 200
[timers]
t1 = 100
t2 = 1000
t4 = 2000
[store]
backend = redis
dir = /var/lib/wac
redis_url = redis://redis:6379/2
[auth]
jwt_secret = abc
admin_username = root
admin_password = pw
token_expires = 600
refresh_expires = 7200
[users]
default_timezone = UTC
default_locale = gl-ES
`);
    expect(config.backend).to.deep.equal(['UsersGroup', 'Other']);
    expect(config.usersGroupEnabled).to.equal(true);
    expect(config.server).to.deep.equal({
      domain: 'example.org',
      bind: '0.0.0.0',
      ws_port: 0,
      sip_port: 0,
      admin_port: 65535,
      tls_cert: '/etc/cert.pem',
      tls_key: '/etc/key.pem',
      log_level: 'silent',
      ws_max_payload: 1024,
      ws_ping_interval: 5,
      udp_io: 'node',
      ws_io: 'node',
    });
    expect(config.registrar).to.deep.equal({ min_expires: 30, max_expires: 7200, default_expires: 3600 });
    expect(config.proxy.timer_c).to.equal(200);
    expect(config.timers).to.deep.equal({ t1: 100, t2: 1000, t4: 2000 });
    expect(config.store).to.deep.equal({ backend: 'redis', dir: '/var/lib/wac', redis_url: 'redis://redis:6379/2' });
    expect(config.auth).to.deep.equal({
      jwt_secret: 'abc', admin_username: 'root', admin_password: 'pw', token_expires: 600, refresh_expires: 7200,
    });
    expect(config.users).to.deep.equal({ default_timezone: 'UTC', default_locale: 'gl-ES' });
  });

  it('treats a single `backend =` as a list and empty optional values as unset', () => {
    const config = parseConfig('backend = UsersGroup\n[server]\ntls_cert =\ntls_key =\n');
    expect(config.backend).to.deep.equal(['UsersGroup']);
    expect(config.usersGroupEnabled).to.equal(true);
    expect(config.server.tls_cert).to.equal(undefined);
    expect(config.server.tls_key).to.equal(undefined);
  });

  describe('errors name the source, section.key and problem', () => {
    it('unknown section', () => expectConfigError('[sever]\nws_port = 1\n', 'test.ini', '[sever]', 'unknown section'));
    it('unknown nested section', () => expectConfigError('[server.tls]\nk = v\n', '[server.tls]', 'unknown section'));
    it('unknown top-level key', () => expectConfigError('modules = x\n', 'modules', 'unknown key'));
    it('unknown key', () => expectConfigError('[server]\nwsport = 1\n', 'server.wsport', 'unknown key'));
    it('non-integer', () => expectConfigError('[server]\nws_port = 80a\n', 'server.ws_port', 'integer'));
    it('fraction', () => expectConfigError('[registrar]\nmin_expires = 1.5\n', 'registrar.min_expires', 'integer'));
    it('port out of range', () =>
      expectConfigError('[server]\nsip_port = 70000\n', 'server.sip_port', 'between 0 and 65535'));
    it('negative port', () => expectConfigError('[server]\nadmin_port = -1\n', 'server.admin_port', 'between'));
    it('bad udp_io', () => expectConfigError('[server]\nudp_io = fast\n', 'server.udp_io', 'auto, native or node'));
    it('bad ws_io', () => expectConfigError('[server]\nws_io = uws\n', 'server.ws_io', 'auto, native or node'));
    it('bad log level', () => expectConfigError('[server]\nlog_level = loud\n', 'server.log_level', 'one of'));
    it('bad store backend', () => expectConfigError('[store]\nbackend = mysql\n', 'store.backend', 'memory or redis'));
    it('tls_cert without tls_key', () => expectConfigError('[server]\ntls_cert = /c.pem\n', 'server.tls_key', 'required'));
    it('tls_key without tls_cert', () => expectConfigError('[server]\ntls_key = /k.pem\n', 'server.tls_cert', 'required'));
    it('expires out of order', () =>
      expectConfigError('[registrar]\nmin_expires = 100\nmax_expires = 50\n', 'registrar.min_expires'));
    it('t2 below t1', () => expectConfigError('[timers]\nt1 = 500\nt2 = 400\n', 'timers.t2', 'below t1'));
    it('t1 of 0', () => expectConfigError('[timers]\nt1 = 0\n', 'timers.t1', 'between'));
    it('default_expires outside min..max', () =>
      expectConfigError('[registrar]\ndefault_expires = 7200\n', 'registrar.default_expires'));
    it('reports several problems at once', () =>
      expectConfigError('[server]\nws_port = x\nfoo = 1\n', 'server.ws_port', 'server.foo'));
  });

  describe('loadConfig', () => {
    let dir: string;
    const saved = process.env.WAC_INI;

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-config-'));
    });

    afterEach(() => {
      if (saved === undefined) delete process.env.WAC_INI;
      else process.env.WAC_INI = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('reads the file named by WAC_INI', () => {
      const file = path.join(dir, 'custom.ini');
      fs.writeFileSync(file, '[server]\ndomain = env.example\n');
      process.env.WAC_INI = file;
      expect(loadConfig().server.domain).to.equal('env.example');
    });

    it('names the file when it cannot be read or is invalid', () => {
      expect(() => loadConfig(path.join(dir, 'missing.ini'))).to.throw(/missing\.ini/);
      const bad = path.join(dir, 'bad.ini');
      fs.writeFileSync(bad, '[server]\nws_port = nope\n');
      expect(() => loadConfig(bad)).to.throw(/bad\.ini.*server\.ws_port/);
    });
  });

  it('reads [trunk.<name>] sections, defaulting allow to the address, and names a bad key', () => {
    const c = parseConfig('[trunk.pstn]\naddress = 127.0.0.1\nport = 5090\nusername = wac\npassword = pw\n[trunk.b]\naddress = 127.0.0.2\nallow[] = 127.0.0.3\nallow[] = 127.0.0.4\n');
    expect(c.trunks).to.deep.equal([
      { name: 'pstn', address: '127.0.0.1', port: 5090, transport: 'udp', allow: ['127.0.0.1'], username: 'wac', password: 'pw' },
      { name: 'b', address: '127.0.0.2', port: 5060, transport: 'udp', allow: ['127.0.0.3', '127.0.0.4'] },
    ]);
    expect(() => parseConfig('[trunk.x]\naddress = 127.0.0.1\nadress = 1\n')).to.throw(/trunk\.x\.adress: unknown key/);
    expect(() => parseConfig('[trunk.x]\naddress = pstn.example\n')).to.throw(/trunk\.x\.address: must be an IPv4 address/);
    for (const bad of ['010.0.0.1', '256.1.1.1', '1.2.3']) {
      expect(() => parseConfig(`[trunk.x]\naddress = ${bad}\n`), bad).to.throw(/trunk\.x\.address: must be an IPv4 address/);
    }
    expect(() => parseConfig('[trunk.x]\naddress = 127.0.0.1\nallow[] = 127.0.0.2\nallow[] = pstn.example\n')).to.throw(/trunk\.x\.allow: must be IP addresses/);
    expect(parseConfig('[trunk.x]\naddress = 127.0.0.1\nallow[] = ::1\n').trunks[0].allow).to.deep.equal(['::1']);
  });
});
