/**
 * Follows each call from its INVITE to its end and writes one call detail record: unanswered calls
 * when the final response goes to the caller, answered calls when the dialog ends (BYE) or, as a
 * safety net, when it is still up `maxCallMs` after its answer. Meanwhile the call is in the live view.
 */
import { randomUUID } from 'node:crypto';
import type { LiveCall } from '../../shared/live';
import { CallKind, Cdr, Cdrs, resultOf } from '../../shared/model/cdrs';
import type { Logger } from '../../shared/log';
import type { LiveFeed } from '../live/feed';

interface OngoingCall {
  id: string;
  callId: string;
  kind: CallKind;
  caller: string;
  callee: string;
  parties: Set<string>;
  answeredBy: string | null;
  start: number;
  answer: number | null;
  code: number;
  /** The tags of the answered dialog: only its BYE ends the call (a duplicate answer's BYE does not). */
  dialog: [string, string] | null;
}

export class CdrRecorder {
  private live = new Map<string, OngoingCall>();
  /** Finished records waiting for the next batched write: a disk sync per call would stall calls. */
  private pending: Cdr[] = [];
  private flusher: NodeJS.Timeout;
  /** One sweep for the ceilings instead of a timer per call: nearly every call ends long before either. */
  private sweeper: NodeJS.Timeout;

  constructor(
    private readonly cdrs: Cdrs,
    private readonly feed: LiveFeed,
    private readonly log: Logger,
    private readonly maxCallMs = 12 * 3600_000,
    flushMs = 200,
    /** Far beyond any ring (Timer C, ring timeouts, forwards): a call still unanswered then was lost on the way. */
    private readonly maxRingMs = 15 * 60_000,
  ) {
    this.flusher = setInterval(() => void this.flush(), flushMs);
    this.flusher.unref();
    // A call outlives its ceiling by at most an eighth of the shorter one.
    this.sweeper = setInterval(() => this.sweep(), Math.min(maxRingMs, maxCallMs) / 8);
    this.sweeper.unref();
  }

  /** Writes the finished records now (also at shutdown). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    await this.cdrs.save(batch).catch((err) => this.log.error({ err, records: batch.length }, 'could not write call records'));
  }

  async close(): Promise<void> {
    clearInterval(this.flusher);
    clearInterval(this.sweeper);
    await this.flush();
  }

  /** A new call; `parties` are the user ids allowed to read its record. */
  started(callId: string, kind: CallKind, caller: string, callee: string, parties: string[]): void {
    if (this.live.has(callId)) return;
    const c: OngoingCall = {
      id: randomUUID(), callId, kind, caller, callee, parties: new Set(parties), answeredBy: null,
      start: Date.now(), answer: null, code: 0, dialog: null,
    };
    this.live.set(callId, c);
    this.feed.callChanged(view(c));
  }

  /** The call was answered, in the dialog of these From and To tags. */
  answered(callId: string, answeredBy: string | null, code: number, dialog: [string, string]): void {
    const c = this.live.get(callId);
    if (!c || c.answer !== null) return;
    c.answer = Date.now();
    c.code = code;
    c.answeredBy = answeredBy;
    c.dialog = dialog;
    if (answeredBy) c.parties.add(answeredBy);
    this.feed.callChanged(view(c));
  }

  /** The caller got a non-2xx final: the call never started. */
  failed(callId: string, code: number): void {
    const c = this.live.get(callId);
    if (!c || c.answer !== null) return;
    c.code = code;
    this.finish(c);
  }

  /** A BYE with these tags went through: it ends the call if it belongs to the answered dialog. */
  ended(callId: string, fromTag: string | null, toTag: string | null): void {
    const c = this.live.get(callId);
    if (!c || !c.dialog) return;
    const [a, b] = c.dialog;
    if ((fromTag === a && toTag === b) || (fromTag === b && toTag === a)) this.finish(c);
  }

  /** Ends the calls past a ceiling: a call still ringing was lost on the way (408). */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.live.values()) {
      if (c.answer === null ? now - c.start < this.maxRingMs : now - c.answer < this.maxCallMs) continue;
      if (c.answer === null) c.code = 408;
      this.finish(c);
    }
  }

  private finish(c: OngoingCall): void {
    this.live.delete(c.callId);
    this.feed.callEnded(c.id);
    const end = Date.now();
    const cdr: Cdr = {
      id: c.id, callId: c.callId, kind: c.kind, caller: c.caller, callee: c.callee, answeredBy: c.answeredBy,
      parties: [...c.parties], start: new Date(c.start).toISOString(),
      answer: c.answer === null ? null : new Date(c.answer).toISOString(), end: new Date(end).toISOString(),
      duration: c.answer === null ? 0 : Math.round((end - c.answer) / 1000), result: resultOf(c.code), code: c.code,
    };
    this.pending.push(cdr);
  }
}

function view(c: OngoingCall): LiveCall {
  return {
    id: c.id, callId: c.callId, kind: c.kind, caller: c.caller, callee: c.callee, state: c.answer === null ? 'ringing' : 'answered',
    answeredBy: c.answeredBy, parties: [...c.parties], start: c.start, answer: c.answer,
  };
}
