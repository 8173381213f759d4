/**
 * A write plan: the ops of one logical change plus the conditions under which it may apply.
 * Plans from several entities merge into one atomic store write, which is how a nested
 * "create user with credentials, mappings and groups" either happens whole or not at all.
 */
import type { Store, WriteOp } from '../store/store';
import { ModelError } from './errors';

export interface Plan {
  ops: WriteOp[];
  /** String keys that must not exist, each with the error to report if one does. */
  absent: Array<{ key: string; error: ModelError }>;
  /** String keys that must exist, each with the error to report if one is gone. */
  present: Array<{ key: string; error: ModelError }>;
}

export function emptyPlan(): Plan {
  return { ops: [], absent: [], present: [] };
}

export function mergePlans(...plans: Plan[]): Plan {
  const out = emptyPlan();
  for (const p of plans) {
    out.ops.push(...p.ops);
    out.absent.push(...p.absent);
    out.present.push(...p.present);
  }
  return out;
}

/** Applies a plan atomically; when a guard fails, throws the error of the condition that failed. */
export async function commit(store: Store, plan: Plan): Promise<void> {
  const ok = await store.write(plan.ops, {
    absent: plan.absent.map((c) => c.key),
    present: plan.present.map((c) => c.key),
  });
  if (ok) return;
  // Guards only ever name string keys (documents and name indexes), so mget tells which one failed.
  const absent = await store.mget(plan.absent.map((c) => c.key));
  const i = absent.findIndex((v) => v !== null);
  if (i >= 0) throw plan.absent[i].error;
  const present = await store.mget(plan.present.map((c) => c.key));
  const j = present.findIndex((v) => v === null);
  if (j >= 0) throw plan.present[j].error;
  throw new ModelError('conflict', 'a concurrent change got in the way; try again');
}
