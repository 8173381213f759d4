import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real redis-server child process on 127.0.0.1, persisting to a temp dir with
 * the AOF fsynced on every write (`appendfsync always`), so that any write Redis
 * acknowledged survives restart() — even one by SIGKILL.
 */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  pid: number;
  /** Stops the server (SIGTERM, waits for exit) and removes its directory. */
  stop(): Promise<void>;
  /**
   * Stops the process with `signal` (SIGTERM: a clean shutdown; SIGKILL: a
   * crash), then starts it again on the same port and directory.
   */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** Thrown by startRedis when there is no redis-server binary and CI is not set. */
export class RedisMissingError extends Error {
  override name = 'RedisMissingError';
}

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

function findBinary(): string | undefined {
  // REDIS_SERVER, when set, is the only place looked at.
  const fromEnv = process.env.REDIS_SERVER;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const files = fromEnv ? [fromEnv] : [...dirs.map((d) => path.join(d, 'redis-server')), ...CANDIDATES];
  for (const file of files) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // mocha --exit ends the process without running every after() hook on a
  // failure; never leave a redis-server behind.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      // "-LOADING ..." while the AOF is being replayed: not ready yet.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function launch(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  child.once('exit', () => live.delete(child));

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    if (await ping(port)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (await waitExit(child, 10_000)) return;
  child.kill('SIGKILL');
  await waitExit(child, 5_000);
}

export async function startRedis(): Promise<RedisServer> {
  const binary = findBinary();
  if (!binary) {
    const message = process.env.REDIS_SERVER
      ? `redis-server not found at REDIS_SERVER=${process.env.REDIS_SERVER}`
      : 'redis-server not found (install the redis-server package, or set REDIS_SERVER to its path)';
    if (process.env.CI) throw new Error(`${message}; the Redis tests are required under CI`);
    throw new RedisMissingError(message);
  }
  installExitHook();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-redis-'));

  let port = 0;
  let child: ChildProcess | undefined;
  // Another process may grab the free port before redis-server binds it.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, port, dir);
    } catch (err) {
      if (attempt >= 3) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  let current: ChildProcess = child;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: current.pid!,
    async stop() {
      await terminate(current, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart(signal = 'SIGTERM') {
      await terminate(current, signal);
      current = await launch(binary, port, dir);
      server.pid = current.pid!;
    },
  };
  return server;
}

/**
 * startRedis() for a mocha before() hook: skips the suite, with a message,
 * when redis-server is missing outside CI.
 */
export async function startRedisOrSkip(ctx: Mocha.Context): Promise<RedisServer> {
  try {
    return await startRedis();
  } catch (err) {
    if (err instanceof RedisMissingError) {
      console.warn(`  skipping ${ctx.test?.parent?.fullTitle() ?? 'Redis tests'}: ${err.message}`);
      ctx.skip();
    }
    throw err;
  }
}
