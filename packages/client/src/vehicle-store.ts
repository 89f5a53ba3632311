import type { VehicleDelta, VehicleState } from './protocol.js';

/** What changed since the last `takeChanges()`: ids to (re)draw and ids to drop. */
export interface VehicleChanges {
  readonly upserted: ReadonlySet<string>;
  readonly removed: ReadonlySet<string>;
}

/**
 * The local copy of the vehicles in scope, keyed by id, kept current from `snap`, `d` and
 * `gone`. Entries are merged in place (a delta carries only the fields that changed; `attrs`
 * arrives whole and replaces), and every id touched is remembered until `takeChanges()`, so a
 * renderer can apply a frame's worth of changes by id instead of walking the whole map.
 */
export class VehicleStore {
  private readonly map = new Map<string, VehicleState>();
  private upserted = new Set<string>();
  private removed = new Set<string>();

  get vehicles(): ReadonlyMap<string, Readonly<VehicleState>> {
    return this.map;
  }

  /** A full snapshot: the local set becomes exactly these vehicles. */
  replace(list: readonly VehicleState[]): void {
    const next = new Set<string>();
    for (const v of list) if (isEntry(v)) next.add(v.id);
    for (const id of this.map.keys()) if (!next.has(id)) this.drop(id);
    for (const v of list) {
      if (!isEntry(v)) continue;
      this.map.set(v.id, { ...v });
      this.touch(v.id);
    }
  }

  /** Delta entries (and partial snapshots): merge into known vehicles, add unknown ones whole. */
  merge(list: readonly VehicleDelta[]): void {
    for (const d of list) {
      if (!isEntry(d)) continue;
      const v = this.map.get(d.id);
      if (v === undefined) this.map.set(d.id, { ...d } as VehicleState);
      else Object.assign(v, d);
      this.touch(d.id);
    }
  }

  /** Vehicles that left the scope; ids the client does not hold are ignored. */
  remove(ids: readonly string[]): void {
    for (const id of ids) if (this.map.has(id)) this.drop(id);
  }

  clear(): void {
    for (const id of [...this.map.keys()]) this.drop(id);
  }

  /** The ids changed since the previous call (then forgets them). */
  takeChanges(): VehicleChanges {
    const changes = { upserted: this.upserted, removed: this.removed };
    this.upserted = new Set();
    this.removed = new Set();
    return changes;
  }

  private touch(id: string): void {
    this.upserted.add(id);
    this.removed.delete(id);
  }

  private drop(id: string): void {
    this.map.delete(id);
    this.upserted.delete(id);
    this.removed.add(id);
  }
}

function isEntry(v: unknown): v is { id: string } {
  return typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string';
}
