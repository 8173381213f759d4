/**
 * Every key the model layer uses, in one place so both store backends and any
 * migration see the same layout. Domains never contain ':', so the
 * `<domain>:<username>` suffix is unambiguous even if a username did.
 * Documents (`user:<id>`, `credential:<id>`, ...) are JSON strings; `index:<kind>` sets list them.
 * The live view's `live:*` keys are no model data: they expire, and shared/live/redis.ts owns them.
 * `log:<name>` is where the Redis store keeps an append-only log (Store.append): reserved.
 */
export const keys = {
  /** string: JSON user document */
  user: (id: string) => `user:${id}`,
  /** string: user id */
  userByName: (domain: string, username: string) => `user-by-name:${domain}:${username}`,
  /** hash: ha1 (digest, realm = domain), hash (scrypt$N$r$p$salt$hash), credentialId?, expiresAt? (ms) */
  basicCredential: (userId: string) => `cred:basic:${userId}`,
  /** string: JSON credential document (no secrets) */
  credential: (id: string) => `credential:${id}`,
  /** string: JSON of the secret fields of a non-basic credential, never returned by the API */
  credentialSecret: (id: string) => `credential-secret:${id}`,
  /** set: credential ids of a user */
  userCredentials: (userId: string) => `user-credentials:${userId}`,
  /** string: id of the user's one `basic` credential (guards uniqueness) */
  userBasicCredential: (userId: string) => `user-basic-credential:${userId}`,
  /** string: JSON SIP mapping document */
  sipMapping: (id: string) => `sipmapping:${id}`,
  /** string: mapping id by SIP username (unique) */
  sipMappingByUsername: (username: string) => `sipmapping-by-username:${username}`,
  /** set: mapping ids owned by an owner URI (wac-user:<id> / wac-group:<id>) */
  sipMappingsByOwner: (ownerUri: string) => `sipmappings-by-owner:${ownerUri}`,
  /** string: JSON group document */
  group: (id: string) => `usersgroup:${id}`,
  /** set: group ids a user participates in */
  userGroups: (userId: string) => `user-groups:${userId}`,
  /** set: ids of the groups a user owns (the owner never changes) */
  userOwnedGroups: (userId: string) => `user-owned-groups:${userId}`,
  /** string: JSON chat group document of a user group (kept in sync with it, never edited on its own) */
  chatGroup: (id: string) => `chatgroup:${id}`,
  /** set: phonebook ids a group subscribes to */
  groupPhonebooks: (groupId: string) => `group-phonebooks:${groupId}`,
  /**
   * string: marks revision `rev` of the document at `docKey`; exactly one exists per versioned document.
   * A write guarded by `present: revision(k, n)` that replaces it with n+1 is a compare-and-swap.
   */
  revision: (docKey: string, rev: number) => `rev:${docKey}:${rev}`,
  /** string: JSON phonebook document */
  phonebook: (id: string) => `phonebook:${id}`,
  /** string: JSON domain document */
  domain: (id: string) => `domain:${id}`,
  /** string: domain id by name */
  domainByName: (name: string) => `domain-by-name:${name}`,
  /** string: the JWT signing secret generated on first start when wac.ini sets none */
  jwtSecret: () => 'config:jwt-secret',
} as const;
