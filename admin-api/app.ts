/**
 * The admin HTTP port: the REST API under /sapi (JSON in, JSON out, Bearer-JWT auth, OpenAPI at
 * /sapi/openapi.json) and the browser apps built from web/ (./web.ts).
 */
import express from 'express';
import type { TokenService } from '../shared/auth/jwt';
import type { Config } from '../shared/config';
import type { LiveState } from '../shared/live';
import type { Logger } from '../shared/log';
import { Domains } from '../shared/model/domains';
import { Groups } from '../shared/model/groups';
import { Phonebooks } from '../shared/model/phonebooks';
import { Users } from '../shared/model/users';
import type { Store } from '../shared/store';
import { ApiRegistry } from './api';
import { bearerAuthenticator } from './auth/bearer';
import { tokenRoutes } from './auth/token';
import { errorHandler, notFound } from './errors';
import { userRoutes } from './routes/users';
import { cdrRoutes } from './routes/cdrs';
import { liveRoutes } from './routes/live';
import { domainRoutes } from './routes/domains';
import { phonebookRoutes } from './routes/phonebooks';
import { usersGroupRoutes } from './routes/users-groups';
import { credentialRoutes } from './routes/credentials';
import { sipMappingRoutes } from './routes/sip-mappings';
import { webRoutes } from './web';

export interface AdminDeps {
  config: Config;
  store: Store;
  live: LiveState;
  log: Logger;
  tokens: TokenService;
  /** The SIP WebSocket port actually listened on (ephemeral in tests), for the pages' config.json. */
  wsPort: number;
  /** Where the built pages are; found next to the code when not given. */
  webDir?: string;
}

export function createAdminApp(deps: AdminDeps): { app: express.Express; api: ApiRegistry } {
  const { config, store, live, log, tokens } = deps;
  const users = new Users(store, { timezone: config.users.default_timezone, locale: config.users.default_locale });
  const api = new ApiRegistry();
  const defaultDomain = config.server.domain;

  tokenRoutes(api, tokens, users, defaultDomain);
  const domains = new Domains(store, defaultDomain);
  const groups = new Groups(store);
  const credentials = credentialRoutes(api, { store, users, defaultDomain });
  const sipMappings = sipMappingRoutes(api, { store, defaultDomain });
  userRoutes(api, {
    store, users, credentials, sipMappings, groups, groupsEnabled: config.usersGroupEnabled, defaultDomain,
    domainExists: (d) => domains.exists(d),
  });
  usersGroupRoutes(api, { groups, enabled: config.usersGroupEnabled });
  phonebookRoutes(api, { phonebooks: new Phonebooks(store) });
  domainRoutes(api, { domains });
  cdrRoutes(api, { store });
  liveRoutes(api, { live });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  const doc = api.openapi({ title: 'wac-ts admin API', version: '1' });
  router.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  api.mount(router, bearerAuthenticator(tokens, users));
  app.use('/sapi', router);
  const secure = !!(config.server.tls_cert && config.server.tls_key);
  app.use(webRoutes({ domain: defaultDomain, bind: config.server.bind, wsPort: deps.wsPort, secure }, deps.webDir));
  app.use(notFound);
  app.use(errorHandler(log));
  return { app, api };
}

/** Creates the first admin from [auth] admin_username / admin_password (or WAC_ADMIN_PASSWORD) when the store has no user. */
export async function bootstrapAdmin(config: Config, store: Store, log: Logger): Promise<void> {
  await new Domains(store, config.server.domain).ensureDefault();
  const users = new Users(store, { timezone: config.users.default_timezone, locale: config.users.default_locale });
  if ((await users.list()).length > 0) return;
  const password = process.env.WAC_ADMIN_PASSWORD || config.auth.admin_password;
  if (!password) {
    log.warn('the store has no user and no admin password is configured: set [auth] admin_password or WAC_ADMIN_PASSWORD');
    return;
  }
  await users.create({ domain: config.server.domain, username: config.auth.admin_username, password, role: 'admin' });
  log.info({ username: config.auth.admin_username }, 'created the first admin user');
}
