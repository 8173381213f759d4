/** The users section: the list with its search, creating a user (with a password) and deleting one. */
import { byId, h } from '../shared/dom';
import type { Directory } from './directory';
import { act, confirmStep, notify, report } from './feedback';
import type { Section } from './nav';
import type { Session } from './session';
import { cell, fill, rowButton } from './table';
import { ROLES, type List, type User } from './types';
import type { UserEditor } from './user-editor';

const PAGE = 100;
const SEARCH_DELAY_MS = 250;

const el = {
  searchForm: () => byId('user-search-form', HTMLFormElement),
  search: () => byId('user-search', HTMLInputElement),
  list: () => byId('user-list', HTMLTableElement),
  rows: () => byId('user-rows', HTMLTableSectionElement),
  count: () => byId('user-count', HTMLParagraphElement),
  createForm: () => byId('user-create-form', HTMLFormElement),
  username: () => byId('user-create-username', HTMLInputElement),
  password: () => byId('user-create-password', HTMLInputElement),
  role: () => byId('user-create-role', HTMLSelectElement),
  email: () => byId('user-create-email', HTMLInputElement),
  submit: () => byId('user-create-submit', HTMLButtonElement),
};

export function roleOptions(select: HTMLSelectElement): void {
  select.replaceChildren(...ROLES.map((r) => h('option', { value: r }, r)));
}

export class UsersSection implements Section {
  readonly name = 'users';
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Answers may come back out of order while the admin types; only the latest request's is shown. */
  private latest = 0;

  constructor(private readonly session: Session, private readonly directory: Directory, private readonly editor: UserEditor) {
    roleOptions(el.role());
    el.search().addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => void this.refresh(), SEARCH_DELAY_MS);
    });
    el.searchForm().addEventListener('submit', (e) => {
      e.preventDefault();
      clearTimeout(this.searchTimer);
      void this.refresh();
    });
    el.createForm().addEventListener('submit', (e) => {
      e.preventDefault();
      void act(el.submit(), () => this.create());
    });
    editor.onChange = () => void this.refresh();
  }

  enter(): void {
    void this.refresh();
  }

  leave(): void {
    clearTimeout(this.searchTimer);
    this.editor.close();
  }

  async refresh(): Promise<void> {
    const search = el.search().value.trim();
    const request = ++this.latest;
    const query = new URLSearchParams({ order: 'username', limit: String(PAGE), ...(search ? { search } : {}) });
    try {
      const page = await this.session.api<List<User>>('GET', `/users?${query}`);
      if (request !== this.latest) return;
      fill(el.rows(), page.items.map((u) => this.row(u)), el.count(), page.total, 'user');
      // Tells a test (or a curious admin) which search the rows answer.
      el.list().dataset.search = search;
    } catch (err) {
      report(err);
    }
  }

  private row(u: User): HTMLTableRowElement {
    return h('tr', { 'data-testid': 'user-row', 'data-key': u.username, 'data-id': u.id },
      cell('username', u.username),
      cell('role', u.role),
      cell('email', u.email ?? ''),
      cell('alias', u.alias ?? ''),
      cell('dnd', u.dnd ? 'on' : ''),
      h('td', { class: 'actions' },
        rowButton('Edit', 'user-edit', () => void act(undefined, () => this.editor.open(u.id))),
        rowButton('Delete', 'user-delete', (b) => void this.remove(u, b), true)));
  }

  private async create(): Promise<void> {
    const username = el.username().value.trim();
    const password = el.password().value;
    const email = el.email().value.trim();
    const user = await this.session.api<User>('POST', '/users', {
      username,
      role: el.role().value,
      ...(email ? { email } : {}),
      // The user and its password in one request: both are created, or neither.
      ...(password ? { credentials: [{ type: 'basic', data: { password } }] } : {}),
    });
    el.createForm().reset();
    this.directory.invalidate();
    notify(`User ${user.username} created${password ? ' with a password' : ''}`);
    await this.refresh();
  }

  private async remove(u: User, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmStep(`Delete user ${u.username}? Its SIP mappings go too.`))) return;
    await act(button, async () => {
      await this.session.api('DELETE', `/users/${encodeURIComponent(u.id)}`);
      this.directory.invalidate();
      this.editor.closeIf(u.id);
      notify(`User ${u.username} deleted`);
      await this.refresh();
    });
  }
}
