/** The panel that edits one user: role, email, alias, do-not-disturb, and its password. */
import { byId, show } from '../shared/dom';
import { basicCredential, setPassword } from './credentials';
import type { Directory } from './directory';
import { act, notify } from './feedback';
import type { Session } from './session';
import { time } from './table';
import type { Credential, User } from './types';
import { roleOptions } from './users';

const el = {
  form: () => byId('user-editor', HTMLFormElement),
  title: () => byId('user-editor-title', HTMLHeadingElement),
  role: () => byId('user-edit-role', HTMLSelectElement),
  email: () => byId('user-edit-email', HTMLInputElement),
  alias: () => byId('user-edit-alias', HTMLInputElement),
  dnd: () => byId('user-edit-dnd', HTMLInputElement),
  save: () => byId('user-edit-save', HTMLButtonElement),
  close: () => byId('user-edit-close', HTMLButtonElement),
  passwordStatus: () => byId('user-password-status', HTMLParagraphElement),
  password: () => byId('user-password', HTMLInputElement),
  passwordSubmit: () => byId('user-password-submit', HTMLButtonElement),
};

export class UserEditor {
  private user: User | undefined;
  /** Called after a change, so the list shows it. */
  onChange: () => void = () => undefined;

  constructor(private readonly session: Session, private readonly directory: Directory) {
    roleOptions(el.role());
    el.form().addEventListener('submit', (e) => {
      e.preventDefault();
      void act(el.save(), () => this.save());
    });
    el.close().addEventListener('click', () => this.close());
    el.passwordSubmit().addEventListener('click', () => void act(el.passwordSubmit(), () => this.changePassword()));
  }

  async open(id: string): Promise<void> {
    const path = `/users/${encodeURIComponent(id)}`;
    const [user, credential] = await Promise.all([this.session.api<User>('GET', path), basicCredential(this.session, id)]);
    this.user = user;
    el.form().dataset.key = user.username;
    el.title().textContent = `Edit ${user.username}@${user.domain}`;
    el.role().value = user.role;
    el.email().value = user.email ?? '';
    el.alias().value = user.alias ?? '';
    el.dnd().checked = user.dnd;
    el.password().value = '';
    this.showPassword(credential);
    show(el.form(), true);
  }

  close(): void {
    this.user = undefined;
    show(el.form(), false);
  }

  /** The edited user was deleted: nothing left to edit. */
  closeIf(id: string): void {
    if (this.user?.id === id) this.close();
  }

  /** Sends only what the admin changed (the API leaves unsent fields as they are). */
  private async save(): Promise<void> {
    const u = this.user;
    if (!u) return;
    const patch: Partial<User> = {};
    const role = el.role().value as User['role'];
    const email = el.email().value.trim();
    const alias = el.alias().value.trim();
    if (role !== u.role) patch.role = role;
    if (email !== (u.email ?? '')) patch.email = email;
    if (alias !== (u.alias ?? '')) patch.alias = alias;
    if (el.dnd().checked !== u.dnd) patch.dnd = el.dnd().checked;
    if (Object.keys(patch).length === 0) {
      notify(`Nothing changed for ${u.username}`);
      return;
    }
    this.user = await this.session.api<User>('PUT', `/users/${encodeURIComponent(u.id)}`, patch);
    this.directory.invalidate();
    notify(`User ${u.username} saved`);
    this.onChange();
  }

  private async changePassword(): Promise<void> {
    const u = this.user;
    const password = el.password().value;
    if (!u) return;
    if (!password) throw new Error('Type the new password first');
    this.showPassword(await setPassword(this.session, u.id, password));
    el.password().value = '';
    notify(`Password of ${u.username} set`);
  }

  private showPassword(c: Credential | undefined): void {
    const status = el.passwordStatus();
    status.dataset.state = c ? 'set' : 'none';
    status.textContent = c
      ? `Has a password, set ${time(c.updatedAt)}${c.expiresAt ? `, expires ${time(c.expiresAt)}` : ''}.`
      : 'No password: this user cannot register or log in yet.';
  }
}
