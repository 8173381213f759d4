/** A small JSON client for the admin API over real HTTP. */
import { ADMIN_PASSWORD, TestServer } from './server';

export interface ApiResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

export class ApiClient {
  constructor(readonly base: string, public token?: string) {}

  async call(method: string, path: string, body?: unknown, opts: { form?: boolean; token?: string | null; raw?: string } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    const token = opts.token === null ? undefined : opts.token ?? this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (opts.raw !== undefined) {
      headers['content-type'] = 'application/json';
      payload = opts.raw;
    } else if (body !== undefined && opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(body as Record<string, string>).toString();
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.base}/sapi${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  get = (path: string, opts?: { token?: string | null }) => this.call('GET', path, undefined, opts);
  post = (path: string, body?: unknown, opts?: { form?: boolean; token?: string | null; raw?: string }) => this.call('POST', path, body, opts);
  put = (path: string, body?: unknown, opts?: { token?: string | null }) => this.call('PUT', path, body, opts);
  del = (path: string, opts?: { token?: string | null }) => this.call('DELETE', path, undefined, opts);

  /** Logs in with the password grant and keeps the access token. */
  async login(username: string, password: string): Promise<ApiClient> {
    const r = await this.post('/token', { grant_type: 'password', username, password }, { token: null });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    return new ApiClient(this.base, r.body.access_token);
  }
}

/** An ApiClient that keeps every response body (the OpenAPI document aside) in `sink`, to prove no secret ever left. */
export class RecordingClient extends ApiClient {
  constructor(base: string, token: string | undefined, private readonly sink: string[]) {
    super(base, token);
  }

  override async call(...args: Parameters<ApiClient['call']>): Promise<ApiResponse> {
    const r = await super.call(...args);
    // The OpenAPI document names the password fields of request bodies; it holds no value.
    if (args[1] !== '/openapi.json') this.sink.push(JSON.stringify(r.body ?? null));
    return r;
  }
}

/**
 * GETs `path` every 50 ms until `done(body)` holds, for views that catch up on their own (the live
 * view is published every 200 ms); rejects after `ms` with the last answer.
 */
export async function getUntil(client: ApiClient, path: string, done: (body: any) => boolean, what: string, ms = 5000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await client.get(path);
    if (r.status === 200 && done(r.body)) return r.body;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: GET ${path} answered ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function adminClient(srv: TestServer): Promise<ApiClient> {
  return new ApiClient(srv.adminUrl).login('admin', ADMIN_PASSWORD);
}

/** Creates a user with a password through the model and returns a client logged in as that user. */
export async function userClient(srv: TestServer, username: string, password: string, role: 'user' | 'anonymous' | 'admin' = 'user'): Promise<{ client: ApiClient; id: string }> {
  const u = await srv.users.create({ domain: srv.domain, username, password, role });
  return { client: await new ApiClient(srv.adminUrl).login(username, password), id: u.id };
}

export interface Account {
  id: string;
  username: string;
  password: string;
}

let accountSeq = 0;

/** A fresh user with a password, created through POST /sapi/users (names never repeat in a run). */
export async function newAccount(api: ApiClient, prefix: string): Promise<Account> {
  const username = `${prefix}${++accountSeq}`;
  const password = `pw-${username}-secret`;
  const r = await api.post('/users', { username, credentials: [{ type: 'basic', data: { password } }] });
  if (r.status !== 201) throw new Error(`create user ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, username, password };
}
