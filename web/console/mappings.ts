/** The SIP mappings section: SIP identities (e.g. 205) bound to a user or a group; list, create, delete. */
import { byId, h } from '../shared/dom';
import type { Directory } from './directory';
import { act, confirmStep, notify, report } from './feedback';
import type { Section } from './nav';
import type { Session } from './session';
import { cell, fill, rowButton } from './table';
import type { List, SipMapping } from './types';

const el = {
  rows: () => byId('mapping-rows', HTMLTableSectionElement),
  count: () => byId('mapping-count', HTMLParagraphElement),
  form: () => byId('mapping-create-form', HTMLFormElement),
  username: () => byId('mapping-username', HTMLInputElement),
  ownerKind: () => byId('mapping-owner-kind', HTMLSelectElement),
  owner: () => byId('mapping-owner', HTMLSelectElement),
  password: () => byId('mapping-password', HTMLInputElement),
  submit: () => byId('mapping-create-submit', HTMLButtonElement),
};

export class MappingsSection implements Section {
  readonly name = 'mappings';

  constructor(private readonly session: Session, private readonly directory: Directory) {
    el.ownerKind().addEventListener('change', () => this.ownerOptions());
    el.form().addEventListener('submit', (e) => {
      e.preventDefault();
      void act(el.submit(), () => this.create());
    });
  }

  enter(): void {
    void this.refresh();
  }

  leave(): void {}

  private async refresh(): Promise<void> {
    try {
      // Owners are shown by name, so the directory must know the latest users and groups.
      const [page] = await Promise.all([
        this.session.api<List<SipMapping>>('GET', '/sipMappings?order=username&limit=1000'),
        this.directory.ensure(),
      ]);
      fill(el.rows(), page.items.map((m) => this.row(m)), el.count(), page.total, 'mapping');
      this.ownerOptions();
    } catch (err) {
      report(err);
    }
  }

  /** The owner picker lists the users or the groups, as the kind says; the choice is kept when still there. */
  private ownerOptions(): void {
    const select = el.owner();
    const before = select.value;
    const options = el.ownerKind().value === 'group'
      ? this.directory.groupList().map((g) => h('option', { value: `wac-group:${g.id}` }, `${g.name} (${g.id})`))
      : this.directory.userList().map((u) => h('option', { value: `wac-user:${u.id}` }, u.username));
    select.replaceChildren(...options);
    if (options.some((o) => o.value === before)) select.value = before;
  }

  private row(m: SipMapping): HTMLTableRowElement {
    return h('tr', { 'data-testid': 'mapping-row', 'data-key': m.credential.username, 'data-owner': m.ownerUri },
      cell('username', m.credential.username),
      cell('owner', this.directory.owner(m.ownerUri)),
      h('td', { class: 'actions' }, rowButton('Delete', 'mapping-delete', (b) => void this.remove(m, b), true)));
  }

  private async create(): Promise<void> {
    const username = el.username().value.trim();
    const password = el.password().value;
    if (!el.owner().value) {
      const kind = el.ownerKind().value;
      throw new Error(kind === 'group' && this.directory.groupsUnavailable ? this.directory.groupsUnavailable : `No ${kind} to map ${username} to`);
    }
    const m = await this.session.api<SipMapping>('POST', '/sipMappings', {
      ownerUri: el.owner().value,
      credential: { username, ...(password ? { password } : {}) },
    });
    el.username().value = '';
    el.password().value = '';
    notify(`${m.credential.username} now reaches ${this.directory.owner(m.ownerUri)}`);
    await this.refresh();
  }

  private async remove(m: SipMapping, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmStep(`Delete the SIP mapping ${m.credential.username} → ${this.directory.owner(m.ownerUri)}?`))) return;
    await act(button, async () => {
      await this.session.api('DELETE', `/sipMappings/${encodeURIComponent(m.id)}`);
      notify(`SIP mapping ${m.credential.username} deleted`);
      await this.refresh();
    });
  }
}
