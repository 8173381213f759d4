/** Entities stored as JSON documents under `<kind>:<id>`, with a set `index:<kind>` of their ids for listing. */
import type { Store, WriteOp } from '../store/store';

export interface Entity {
  id: string;
}

export class Collection<T extends Entity> {
  constructor(
    private readonly store: Store,
    readonly kind: string,
  ) {}

  get indexKey(): string {
    return `index:${this.kind}`;
  }

  key(id: string): string {
    return `${this.kind}:${id}`;
  }

  async get(id: string): Promise<T | null> {
    const raw = await this.store.get(this.key(id));
    return raw === null ? null : (JSON.parse(raw) as T);
  }

  async getMany(ids: string[]): Promise<T[]> {
    if (ids.length === 0) return [];
    const raws = await this.store.mget(ids.map((id) => this.key(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as T);
  }

  async all(): Promise<T[]> {
    return this.getMany(await this.store.smembers(this.indexKey));
  }

  putOps(entity: T): WriteOp[] {
    return [
      { op: 'set', key: this.key(entity.id), value: JSON.stringify(entity) },
      { op: 'sadd', key: this.indexKey, members: [entity.id] },
    ];
  }

  deleteOps(id: string): WriteOp[] {
    return [
      { op: 'del', key: this.key(id) },
      { op: 'srem', key: this.indexKey, members: [id] },
    ];
  }
}
