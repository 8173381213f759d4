/**
 * `npm run build:web`: bundles every app in web/ into dist/web/<app>/ with esbuild, from the npm
 * packages installed here (no CDN at run time).
 *
 * An app is a folder web/<app>/ holding index.html; its main.ts becomes main.js (one IIFE with its
 * npm dependencies inside), its style.css becomes style.css (@import resolved), and every other
 * file but *.ts is copied as is. web/shared/ has no index.html: only imported, never served.
 * The manifest is written last; the server serves nothing until it exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { WEB_MANIFEST } from '../admin-api/web';

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'web');
const OUT = path.join(ROOT, 'dist', 'web');

function apps(): string[] {
  return fs.readdirSync(SRC, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(SRC, d.name, 'index.html')))
    .map((d) => d.name)
    .sort();
}

async function buildApp(app: string): Promise<string[]> {
  const src = path.join(SRC, app);
  const out = path.join(OUT, app);
  fs.mkdirSync(out, { recursive: true });
  const entryPoints = ['main.ts', 'style.css'].map((f) => path.join(src, f)).filter((f) => fs.existsSync(f));
  await esbuild.build({
    entryPoints,
    outdir: out,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    // Browsers with RTCPeerConnection, Promise.any and the like; nothing older can place calls.
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    absWorkingDir: ROOT,
  });
  for (const f of fs.readdirSync(src)) {
    if (f.endsWith('.ts') || f === 'style.css' || f === 'tsconfig.json') continue;
    fs.cpSync(path.join(src, f), path.join(out, f), { recursive: true });
  }
  return fs.readdirSync(out).sort();
}

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true });
  const built: Record<string, string[]> = {};
  for (const app of apps()) built[app] = await buildApp(app);
  if (Object.keys(built).length === 0) throw new Error(`no app (a folder with index.html) in ${SRC}`);
  fs.writeFileSync(path.join(OUT, WEB_MANIFEST), `${JSON.stringify({ apps: built, esbuild: esbuild.version }, null, 2)}\n`);
  for (const [app, files] of Object.entries(built)) process.stdout.write(`dist/web/${app}/: ${files.join(' ')}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`build:web: ${err.message}\n`);
  process.exit(1);
});
