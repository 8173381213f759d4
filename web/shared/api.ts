/** What the pages ask the server over HTTP: their config.json and the admin API on the same origin. */

/** `/<app>/config.json`: where this server's SIP WebSocket is, and its SIP domain. */
export interface WebConfig {
  wsUrl: string;
  domain: string;
}

/** A failed request; `code` is the API's `error.code` when the answer had one. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code = '') {
    super(message);
  }
}

export interface RequestOptions {
  method?: string;
  /** An access token, sent as `Authorization: Bearer`. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
}

/** One JSON request; an answer that is not 2xx becomes an HttpError with the API's `{error: {code, message}}`. */
export async function requestJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${bareToken(opts.token)}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method, headers, cache: 'no-store', body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new HttpError(res.status, `${method} ${url}: not JSON (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new HttpError(res.status, error?.message ?? `${method} ${url}: HTTP ${res.status}`, error?.code);
  }
  return body as T;
}

/** Relative, so the page works under whatever prefix a reverse proxy gives it. */
export function loadConfig(): Promise<WebConfig> {
  return requestJson<WebConfig>('config.json');
}

/** `/sapi<path>` seen from a page one folder down (`/<app>/`), keeping a reverse proxy's prefix. */
export function sapiUrl(path: string): string {
  const url = new URL(`../sapi${path}`, location.href);
  return url.pathname + url.search;
}

export interface Me {
  id: string;
  username: string;
  domain: string;
  role: string;
}

/** Strips an optional "Bearer " so a pasted header value works as well as a bare token. */
export function bareToken(token: string): string {
  return token.trim().replace(/^Bearer\s+/i, '');
}

/** The user an access token belongs to (GET /sapi/users/me); also proves the token is accepted. */
export function whoAmI(token: string): Promise<Me> {
  return requestJson<Me>(sapiUrl('/users/me'), { token });
}
