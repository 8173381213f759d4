/**
 * Every key the model layer uses, in one place so both store backends and any
 * migration see the same layout. Domains never contain ':', so the
 * `<domain>:<username>` suffix is unambiguous even if a username did.
 */
export const keys = {
  /** hash: id, domain, username, role, createdAt, email? */
  user: (id: string) => `user:${id}`,
  /** string: user id */
  userByName: (domain: string, username: string) => `user-by-name:${domain}:${username}`,
  /** hash: ha1 (digest, realm = domain), hash (scrypt$N$r$p$salt$hash) */
  basicCredential: (userId: string) => `cred:basic:${userId}`,
} as const;
