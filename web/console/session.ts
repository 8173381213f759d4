/**
 * The admin's tokens and every /sapi request made with them. The tokens live in sessionStorage, so
 * a reload keeps the admin logged in while closing the tab forgets them. An access token refused
 * with 401 is renewed once with the refresh token; when that fails too, the session ends.
 */
import { HttpError, requestJson, sapiUrl, whoAmI, type Me } from '../shared/api';
import type { Tokens } from './types';

const STORAGE_KEY = 'wac-console-tokens';

/** Thrown to callers whose request died with the session: the login form already says why. */
export class SessionEnded extends Error {}

export class Session {
  private tokens: Tokens | undefined = stored();
  /** One renewal shared by the requests that got 401 together. */
  private renewal: Promise<boolean> | undefined;

  constructor(private readonly onEnd: (reason: string) => void) {}

  get resumable(): boolean {
    return this.tokens !== undefined;
  }

  /** Password grant; only an admin may use the console, so any other role is refused here. */
  async login(login: string, password: string): Promise<Me> {
    const [username, domain] = login.trim().split('@');
    const tokens = await requestJson<Tokens>(sapiUrl('/token'), {
      method: 'POST', body: { grant_type: 'password', username, password, ...(domain ? { domain } : {}) },
    });
    const me = requireAdmin(await whoAmI(tokens.access_token));
    this.keep(tokens);
    return me;
  }

  /** The stored session's user, after a reload; renews its token if needed. */
  async resume(): Promise<Me> {
    try {
      return requireAdmin(await this.api<Me>('GET', '/users/me'));
    } catch (err) {
      if (!(err instanceof SessionEnded)) this.logout();
      throw err;
    }
  }

  logout(): void {
    this.keep(undefined);
  }

  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const tokens = this.tokens;
      if (!tokens) throw new SessionEnded('logged out');
      try {
        return await requestJson<T>(sapiUrl(path), { method, body, token: tokens.access_token });
      } catch (err) {
        if (!(err instanceof HttpError) || err.status !== 401) throw err;
        if (attempt > 0 || !(await this.renew(tokens))) {
          this.end(`Session expired (${err.message}): log in again`);
          throw new SessionEnded(err.message);
        }
      }
    }
  }

  private renew(used: Tokens): Promise<boolean> {
    // Another request renewed them meanwhile: just try again with the new token.
    if (this.tokens !== used) return Promise.resolve(true);
    this.renewal ??= requestJson<Tokens>(sapiUrl('/token'), {
      method: 'POST', body: { grant_type: 'refresh_token', refresh_token: used.refresh_token },
    }).then((tokens) => {
      // Logged out while the renewal ran: the session must stay ended.
      if (this.tokens !== used) return false;
      this.keep(tokens);
      return true;
    }, () => false).finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private end(reason: string): void {
    if (!this.tokens) return;
    this.keep(undefined);
    this.onEnd(reason);
  }

  private keep(tokens: Tokens | undefined): void {
    this.tokens = tokens;
    if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }));
    else sessionStorage.removeItem(STORAGE_KEY);
  }
}

function requireAdmin(me: Me): Me {
  if (me.role !== 'admin') throw new Error(`${me.username} is not an admin (role ${me.role}): the console needs an admin`);
  return me;
}

function stored(): Tokens | undefined {
  try {
    const t = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Tokens> | null;
    return t?.access_token && t.refresh_token ? { access_token: t.access_token, refresh_token: t.refresh_token } : undefined;
  } catch {
    return undefined;
  }
}
