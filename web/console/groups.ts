/**
 * The user groups section: list, create with participants, change the name and participants, delete.
 * The admin creating a group becomes its owner (the API adds the owner as first participant).
 * Without `backend[] = UsersGroup` the API refuses every group call; the section then says so.
 */
import { HttpError } from '../shared/api';
import { byId, h, show } from '../shared/dom';
import type { Directory } from './directory';
import { act, confirmStep, notify, report } from './feedback';
import type { Section } from './nav';
import type { Session } from './session';
import { cell, fill, rowButton } from './table';
import type { Group, List } from './types';

const el = {
  unavailable: () => byId('group-unavailable', HTMLParagraphElement),
  list: () => byId('group-list', HTMLTableElement),
  rows: () => byId('group-rows', HTMLTableSectionElement),
  count: () => byId('group-count', HTMLParagraphElement),
  form: () => byId('group-form', HTMLFormElement),
  title: () => byId('group-form-title', HTMLHeadingElement),
  name: () => byId('group-name', HTMLInputElement),
  participants: () => byId('group-participants', HTMLSelectElement),
  submit: () => byId('group-submit', HTMLButtonElement),
  cancel: () => byId('group-cancel', HTMLButtonElement),
};

export class GroupsSection implements Section {
  readonly name = 'groups';
  /** The group the form edits; undefined while it creates one. */
  private editing: Group | undefined;

  constructor(private readonly session: Session, private readonly directory: Directory) {
    el.form().addEventListener('submit', (e) => {
      e.preventDefault();
      void act(el.submit(), () => this.submit());
    });
    el.cancel().addEventListener('click', () => this.createMode());
  }

  enter(): void {
    this.createMode();
    void this.refresh();
  }

  leave(): void {}

  private async refresh(): Promise<void> {
    try {
      await this.directory.ensure();
      const page = await this.session.api<List<Group>>('GET', '/usersgroups?order=name&limit=1000');
      this.available(undefined);
      fill(el.rows(), page.items.map((g) => this.row(g)), el.count(), page.total, 'group');
      // A refresh starts the create form over, so only an edited group has participants to keep.
      this.participantOptions(this.editing?.participants ?? []);
    } catch (err) {
      if (err instanceof HttpError && err.code === 'service_disabled') this.available(err);
      else report(err);
    }
  }

  private available(err: HttpError | undefined): void {
    const p = el.unavailable();
    p.textContent = err ? `${err.message} (${err.code})` : '';
    p.dataset.code = err?.code ?? '';
    show(p, !!err);
    show(el.list(), !err);
    show(el.form(), !err);
  }

  private row(g: Group): HTMLTableRowElement {
    const names = g.participants.map((id) => this.directory.name(id) ?? id);
    return h('tr', { 'data-testid': 'group-row', 'data-key': g.name, 'data-id': g.id },
      cell('name', g.name),
      cell('id', g.id),
      cell('participants', names.join(', ')),
      h('td', { class: 'actions' },
        rowButton('Edit', 'group-edit', () => this.editMode(g)),
        rowButton('Delete', 'group-delete', (b) => void this.remove(g, b), true)));
  }

  /** Every user, those in `chosen` selected. */
  private participantOptions(chosen: string[]): void {
    const selected = new Set(chosen);
    el.participants().replaceChildren(...this.directory.userList().map((u) =>
      h('option', { value: u.id, selected: selected.has(u.id) }, u.username)));
  }

  private selected(): string[] {
    return [...el.participants().selectedOptions].map((o) => o.value);
  }

  private createMode(): void {
    this.editing = undefined;
    el.form().dataset.mode = 'create';
    el.form().reset();
    el.title().textContent = 'New group';
    el.submit().textContent = 'Create group';
    show(el.cancel(), false);
  }

  private editMode(g: Group): void {
    this.editing = g;
    el.form().dataset.mode = 'edit';
    el.title().textContent = `Edit group ${g.name}`;
    el.submit().textContent = 'Save group';
    el.name().value = g.name;
    this.participantOptions(g.participants);
    show(el.cancel(), true);
    el.name().focus();
  }

  private async submit(): Promise<void> {
    const body = { name: el.name().value.trim(), participants: this.selected() };
    const g = this.editing
      ? await this.session.api<Group>('PUT', `/usersgroups/${encodeURIComponent(this.editing.id)}`, body)
      : await this.session.api<Group>('POST', '/usersgroups', body);
    notify(`Group ${g.name} ${this.editing ? 'saved' : `created (id ${g.id})`}`);
    this.directory.invalidate();
    this.createMode();
    await this.refresh();
  }

  private async remove(g: Group, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmStep(`Delete group ${g.name}? Its chat group and SIP mappings go too.`))) return;
    await act(button, async () => {
      await this.session.api('DELETE', `/usersgroups/${encodeURIComponent(g.id)}`);
      notify(`Group ${g.name} deleted`);
      this.directory.invalidate();
      if (this.editing?.id === g.id) this.createMode();
      await this.refresh();
    });
  }
}
