/**
 * The live view: who is registered (devices, transport, user agent) and the calls under way, from
 * GET /sapi/registrations and /sapi/calls, polled every 2 s while the section shows. The server
 * publishes its changes every 200 ms, so the view is at most ~2.2 s behind.
 */
import { byId, h } from '../shared/dom';
import type { Directory } from './directory';
import type { Section } from './nav';
import { SessionEnded, type Session } from './session';
import { cell, fill, time } from './table';
import type { Call, List, Registration } from './types';

const POLL_MS = 2000;
/** A party the directory does not know (a user created elsewhere) reloads it, at most this often. */
const NAMES_MAX_AGE_MS = 10_000;

const el = {
  updated: () => byId('live-updated', HTMLSpanElement),
  registrations: () => byId('registration-rows', HTMLTableSectionElement),
  registrationCount: () => byId('registration-count', HTMLParagraphElement),
  calls: () => byId('call-rows', HTMLTableSectionElement),
  callCount: () => byId('call-count', HTMLParagraphElement),
};

export class LiveSection implements Section {
  readonly name = 'live';
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped on enter and leave, so a poll in flight from an earlier visit never schedules another. */
  private visit = 0;

  constructor(private readonly session: Session, private readonly directory: Directory) {}

  enter(): void {
    void this.poll(++this.visit, 0);
  }

  leave(): void {
    this.visit++;
    clearTimeout(this.timer);
  }

  private async poll(visit: number, namesMaxAge: number): Promise<void> {
    const updated = el.updated();
    try {
      const [registrations, calls] = await Promise.all([
        this.session.api<List<Registration>>('GET', '/registrations?limit=1000'),
        this.session.api<List<Call>>('GET', '/calls?limit=1000'),
      ]);
      const parties = calls.items.flatMap((c) => (c.answeredBy ? [c.caller, c.callee, c.answeredBy] : [c.caller, c.callee]));
      await this.directory.ensure(parties.some((p) => this.directory.name(p) === undefined) ? namesMaxAge : Infinity);
      if (visit !== this.visit) return;
      fill(el.registrations(), registrations.items.map(registrationRow), el.registrationCount(), registrations.total, 'registered user');
      fill(el.calls(), calls.items.map((c) => this.callRow(c)), el.callCount(), calls.total, 'call');
      updated.textContent = `updated ${new Date().toLocaleTimeString()}, every ${POLL_MS / 1000} s`;
      updated.dataset.updated = String(Date.now());
      updated.classList.remove('error');
    } catch (err) {
      if (err instanceof SessionEnded || visit !== this.visit) return;
      // Shown here rather than in the error banner: the next poll may well succeed.
      updated.textContent = `update failed: ${err instanceof Error ? err.message : String(err)}; retrying`;
      updated.classList.add('error');
    }
    if (visit === this.visit) this.timer = setTimeout(() => void this.poll(visit, NAMES_MAX_AGE_MS), POLL_MS);
  }

  private label(id: string): string {
    return this.directory.name(id) ?? id;
  }

  private callRow(c: Call): HTMLTableRowElement {
    const caller = this.label(c.caller);
    const callee = this.label(c.callee);
    const answeredBy = c.answeredBy && c.answeredBy !== c.callee ? ` by ${this.label(c.answeredBy)}` : '';
    const since = c.answer ?? c.start;
    return h('tr', { 'data-testid': 'call-row', 'data-key': c.id, 'data-state': c.state, 'data-caller': caller, 'data-callee': callee },
      cell('caller', caller),
      cell('callee', callee),
      cell('kind', c.kind),
      cell('state', h('span', { class: 'badge', 'data-state': c.state }, c.state), answeredBy),
      cell('since', `${time(since)} (${elapsed(since)})`));
  }
}

function registrationRow(r: Registration): HTMLTableRowElement {
  const first = r.devices.map((d) => d.registeredAt).sort()[0];
  const lines = (f: (d: Registration['devices'][number]) => string) => r.devices.map((d) => h('div', {}, f(d)));
  return h('tr', { 'data-testid': 'registration-row', 'data-key': r.user, 'data-devices': r.devices.length },
    cell('user', r.aor),
    cell('devices', String(r.devices.length)),
    cell('transport', ...lines((d) => d.transport)),
    cell('userAgent', ...lines((d) => d.userAgent ?? '—')),
    cell('since', first ? `${time(first)} (${elapsed(first)})` : ''));
}

/** How long ago, in the largest unit that fits: "42 s", "3 min", "2 h". */
function elapsed(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}
