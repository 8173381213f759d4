/** List conventions shared by every collection: `{total, items}` with search, order, direction, limit, offset. */
import { z } from 'zod';

export const listQuery = z.object({
  search: z.string().optional(),
  order: z.string().optional(),
  direction: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export type ListQuery = z.output<typeof listQuery>;

/**
 * Filters by a case- and accent-insensitive substring over `searchable` fields, sorts by `order`
 * (one of `orderable`), then pages; `total` counts the matches before paging.
 */
export function applyList<T extends object>(items: T[], q: ListQuery, searchable: (keyof T)[], orderable: (keyof T)[]): { total: number; items: T[] } {
  let out = items;
  if (q.search) {
    const needle = fold(q.search);
    out = out.filter((it) => searchable.some((f) => fold(String(it[f] ?? '')).includes(needle)));
  }
  const order = (q.order ?? orderable[0]) as keyof T;
  const dir = q.direction === 'desc' ? -1 : 1;
  out = [...out].sort((a, b) => dir * String(a[order] ?? '').localeCompare(String(b[order] ?? '')));
  return { total: out.length, items: out.slice(q.offset, q.offset + q.limit) };
}

/** The order field must be one the collection can sort by. */
export function orderField(orderable: string[]) {
  return z.enum(orderable as [string, ...string[]]).optional();
}

function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}
