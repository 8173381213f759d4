/** What the pages ask the server over HTTP: their config.json and the admin API on the same origin. */

/** `/<app>/config.json`: where this server's SIP WebSocket is, and its SIP domain. */
export interface WebConfig {
  wsUrl: string;
  domain: string;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json', ...headers }, cache: 'no-store' });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new HttpError(res.status, `${url}: not JSON (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const msg = (body as { error?: { message?: string } } | undefined)?.error?.message;
    throw new HttpError(res.status, msg ?? `${url}: HTTP ${res.status}`);
  }
  return body as T;
}

/** Relative, so the page works under whatever prefix a reverse proxy gives it. */
export function loadConfig(): Promise<WebConfig> {
  return getJson<WebConfig>('config.json');
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
  return getJson<Me>(new URL('../sapi/users/me', location.href).pathname, { authorization: `Bearer ${bareToken(token)}` });
}
