/**
 * A user's password is its `basic` credential: at most one per user, never returned. Setting it
 * replaces the data of the existing one (PUT) or creates it (POST) for a user that has none.
 */
import type { Session } from './session';
import type { Credential, List } from './types';

export async function basicCredential(session: Session, userId: string): Promise<Credential | undefined> {
  const page = await session.api<List<Credential>>('GET', `/credentials?${new URLSearchParams({ user: userId, type: 'basic' })}`);
  return page.items[0];
}

export async function setPassword(session: Session, userId: string, password: string): Promise<Credential> {
  const current = await basicCredential(session, userId);
  if (current) return session.api<Credential>('PUT', `/credentials/${encodeURIComponent(current.id)}`, { data: { password } });
  return session.api<Credential>('POST', '/credentials', { type: 'basic', user: userId, data: { password } });
}
