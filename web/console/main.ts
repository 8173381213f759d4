/**
 * The admin console (/console/): users and their passwords, SIP mappings, user groups and the live
 * view, all through the /sapi admin API with an admin's token.
 */
import type { Me } from '../shared/api';
import { byId, show } from '../shared/dom';
import { Directory } from './directory';
import { wireFeedback } from './feedback';
import { GroupsSection } from './groups';
import { LiveSection } from './live';
import { MappingsSection } from './mappings';
import { Nav } from './nav';
import { Session, SessionEnded } from './session';
import { UserEditor } from './user-editor';
import { UsersSection } from './users';

const el = {
  login: () => byId('login', HTMLElement),
  loginForm: () => byId('login-form', HTMLFormElement),
  loginUsername: () => byId('login-username', HTMLInputElement),
  loginPassword: () => byId('login-password', HTMLInputElement),
  loginSubmit: () => byId('login-submit', HTMLButtonElement),
  loginError: () => byId('login-error', HTMLParagraphElement),
  console: () => byId('console', HTMLElement),
  identity: () => byId('identity', HTMLSpanElement),
};

const session = new Session((reason) => showLogin(reason));
const directory = new Directory(session);
const nav = new Nav([
  new UsersSection(session, directory, new UserEditor(session, directory)),
  new MappingsSection(session, directory),
  new GroupsSection(session, directory),
  new LiveSection(session, directory),
]);

function showLogin(error?: string): void {
  nav.stop();
  show(el.console(), false);
  show(el.login(), true);
  el.loginPassword().value = '';
  el.loginError().textContent = error ?? '';
  show(el.loginError(), !!error);
}

function showConsole(me: Me): void {
  show(el.login(), false);
  show(el.loginError(), false);
  show(el.console(), true);
  el.identity().textContent = `${me.username}@${me.domain}`;
  // Another admin may have changed everything since this page last looked.
  directory.invalidate();
  nav.go();
}

el.loginForm().addEventListener('submit', (e) => {
  e.preventDefault();
  const button = el.loginSubmit();
  button.disabled = true;
  // The previous attempt's error no longer applies.
  el.loginError().textContent = '';
  show(el.loginError(), false);
  session.login(el.loginUsername().value, el.loginPassword().value)
    .then(showConsole, (err: Error) => showLogin(err.message))
    .finally(() => {
      button.disabled = false;
    });
});

byId('logout', HTMLButtonElement).addEventListener('click', () => {
  session.logout();
  showLogin();
});

wireFeedback();

if (session.resumable) {
  session.resume().then(showConsole, (err: Error) => {
    // An ended session has already put the reason on the login form.
    if (!(err instanceof SessionEnded)) showLogin(err.message);
  });
} else {
  showLogin();
}
