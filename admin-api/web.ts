/**
 * The browser apps (`/phone`, ...) on the admin HTTP port, same origin as /sapi. Their files are
 * bundled from web/ by `npm run build:web` into dist/web; this module only serves them, plus the
 * small config.json that tells a page where this server's SIP WebSocket is.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { Request, RequestHandler } from 'express';

/** Every app under web/ that the server mounts at `/<name>/`. */
export const WEB_APPS = ['phone', 'console'] as const;

/** Written last by the build: its presence means a complete bundle, not a half-written one. */
export const WEB_MANIFEST = 'manifest.json';

export interface SipEndpoint {
  domain: string;
  bind: string;
  wsPort: number;
  secure: boolean;
}

export interface WebConfig {
  wsUrl: string;
  domain: string;
}

/**
 * dist/web seen from this file: compiled, it is ../web (dist/admin-api → dist/web); run from the
 * sources with tsx, ../web is the source folder (no manifest), so ../dist/web is the one.
 */
export function findWebDir(): string | undefined {
  return [path.resolve(__dirname, '..', 'web'), path.resolve(__dirname, '..', 'dist', 'web')]
    .find((dir) => fs.existsSync(path.join(dir, WEB_MANIFEST)));
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * The WebSocket URL a browser should use. A wildcard bind has no address a browser could use,
 * so the host the browser itself used to reach this page (Host header) is the best guess.
 */
export function sipWsUrl(ep: SipEndpoint, hostHeader: string | undefined): string {
  let host = ep.bind.includes(':') ? `[${ep.bind}]` : ep.bind;
  if (WILDCARD.has(ep.bind)) host = hostnameOf(hostHeader) ?? ep.domain;
  return `${ep.secure ? 'wss' : 'ws'}://${host}:${ep.wsPort}`;
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname || undefined;
  } catch {
    return undefined;
  }
}

export function webConfig(ep: SipEndpoint, req: Request): WebConfig {
  return { wsUrl: sipWsUrl(ep, req.headers.host), domain: ep.domain };
}

/**
 * The pages load nothing but their own files and talk only to this origin and SIP WebSockets; no
 * other site may frame them (the console's buttons delete users).
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
};

/**
 * `/<app>/config.json` for every app, and the app's files from dist/web/<app>. Without a build the
 * pages answer 503 saying how to build them, so a server run from the sources still starts.
 */
export function webRoutes(ep: SipEndpoint, dir?: string): express.Router {
  const router = express.Router();
  let root = dir;
  const handlers = new Map<string, RequestHandler>();
  for (const app of WEB_APPS) {
    router.get(`/${app}/config.json`, (req, res) => {
      res.set('cache-control', 'no-store').json(webConfig(ep, req));
    });
    router.use(`/${app}`, (req, res, next) => {
      res.set(PAGE_HEADERS);
      // Looked up again until found, so a build made while the server runs is picked up.
      root ??= findWebDir();
      if (!root || !fs.existsSync(path.join(root, app))) {
        res.status(503).type('text/plain')
          .send(`The ${app} page is not built. Run \`npm run build\` (or \`npm run build:web\`) and reload.\n`);
        return;
      }
      let serve = handlers.get(app);
      if (!serve) {
        serve = express.static(path.join(root, app), { index: 'index.html', redirect: true, fallthrough: true });
        handlers.set(app, serve);
      }
      serve(req, res, next);
    });
  }
  return router;
}
