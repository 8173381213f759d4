/** The browser apps on the admin port: files from dist/web, config.json naming the real SIP WebSocket, 503 without a build. */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { sipWsUrl, webRoutes, type SipEndpoint } from '../../admin-api/web';
import { ensureWebBuild } from '../support/browser';
import { startTestServer, type TestServer } from '../support/server';

describe('web apps on the admin port (/phone, /console)', () => {
  describe('served by the running server', () => {
    let srv: TestServer;
    before(async () => {
      ensureWebBuild();
      srv = await startTestServer();
    });
    after(() => srv.close());

    it('redirects /phone to /phone/ and serves the page, its bundle and its stylesheet', async () => {
      const bare = await fetch(`${srv.adminUrl}/phone`, { redirect: 'manual' });
      expect(bare.status).to.equal(301);
      expect(bare.headers.get('location')).to.equal('/phone/');
      const html = await fetch(`${srv.adminUrl}/phone/`);
      expect(html.status).to.equal(200);
      expect(html.headers.get('content-type')).to.match(/^text\/html/);
      // The browser tests prove the pages work under this policy.
      expect(html.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
      expect(html.headers.get('x-frame-options')).to.equal('DENY');
      const page = await html.text();
      expect(page).to.contain('<script src="main.js" defer></script>');
      expect(page).to.contain('id="remote-audio"');
      const js = await fetch(`${srv.adminUrl}/phone/main.js`);
      expect(js.headers.get('content-type')).to.match(/javascript/);
      // JsSIP is inside the bundle: the page loads nothing from elsewhere.
      expect(await js.text()).to.contain('JsSIP');
      expect((await fetch(`${srv.adminUrl}/phone/style.css`)).headers.get('content-type')).to.match(/^text\/css/);
    });

    it('serves /console/ the same way, its bundle free of JsSIP (the console needs no SIP)', async () => {
      expect((await fetch(`${srv.adminUrl}/console`, { redirect: 'manual' })).headers.get('location')).to.equal('/console/');
      const html = await fetch(`${srv.adminUrl}/console/`);
      expect(html.status).to.equal(200);
      const page = await html.text();
      expect(page).to.contain('<script src="main.js" defer></script>');
      expect(page).to.contain('id="section-live"');
      const js = await fetch(`${srv.adminUrl}/console/main.js`);
      expect(js.status).to.equal(200);
      expect(await js.text()).to.not.contain('JsSIP');
      expect((await fetch(`${srv.adminUrl}/console/style.css`)).headers.get('content-type')).to.match(/^text\/css/);
    });

    it('config.json names the WebSocket port actually listened on and the SIP domain', async () => {
      const r = await fetch(`${srv.adminUrl}/phone/config.json`);
      expect(r.status).to.equal(200);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(await r.json()).to.deep.equal({ wsUrl: `ws://127.0.0.1:${srv.wsPort}`, domain: 'wac.local' });
    });

    it('leaves /sapi and the JSON 404 as they were', async () => {
      expect((await fetch(`${srv.adminUrl}/sapi/openapi.json`)).status).to.equal(200);
      const r = await fetch(`${srv.adminUrl}/nothing-here`);
      expect(r.status).to.equal(404);
      expect(((await r.json()) as { error: { code: string } }).error.code).to.equal('not_found');
      expect((await fetch(`${srv.adminUrl}/phone/nothing-here.js`)).status).to.equal(404);
    });
  });

  it('answers 503 with how to build when dist/web is missing, and still serves config.json', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-web-'));
    try {
      const app = express().use(webRoutes({ domain: 'wac.local', bind: '127.0.0.1', wsPort: 8080, secure: false }, empty));
      const r = await request(app).get('/phone/');
      expect(r.status).to.equal(503);
      expect(r.text).to.contain('npm run build');
      expect((await request(app).get('/phone/config.json')).body).to.deep.equal({ wsUrl: 'ws://127.0.0.1:8080', domain: 'wac.local' });
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  describe('sipWsUrl', () => {
    const ep = (over: Partial<SipEndpoint>): SipEndpoint => ({ domain: 'wac.local', bind: '127.0.0.1', wsPort: 8080, secure: false, ...over });

    it('uses the bound address, in brackets for IPv6, with wss under TLS', () => {
      expect(sipWsUrl(ep({}), 'ignored.example:8001')).to.equal('ws://127.0.0.1:8080');
      expect(sipWsUrl(ep({ bind: '::1' }), undefined)).to.equal('ws://[::1]:8080');
      expect(sipWsUrl(ep({ secure: true, bind: '10.0.0.5', wsPort: 443 }), undefined)).to.equal('wss://10.0.0.5:443');
    });

    it('with a wildcard bind, takes the host the browser used (Host header), else the domain', () => {
      expect(sipWsUrl(ep({ bind: '0.0.0.0' }), 'pbx.example.com:8001')).to.equal('ws://pbx.example.com:8080');
      expect(sipWsUrl(ep({ bind: '0.0.0.0' }), '192.168.1.20')).to.equal('ws://192.168.1.20:8080');
      expect(sipWsUrl(ep({ bind: '::' }), '[2001:db8::1]:8001')).to.equal('ws://[2001:db8::1]:8080');
      expect(sipWsUrl(ep({ bind: '0.0.0.0' }), undefined)).to.equal('ws://wac.local:8080');
      expect(sipWsUrl(ep({ bind: '0.0.0.0' }), 'bad host/\\')).to.equal('ws://wac.local:8080');
    });
  });
});
