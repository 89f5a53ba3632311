import RBush from 'rbush';
import type { VehicleView } from './domain/vehicle-state.js';
import { matches, type StateIndex, type StateQuery } from './ports/state-index.js';

/** The box in whole microdegrees (UNITS_PER_DEG). */
interface Entry {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  view: VehicleView;
}

/**
 * Tree entries are boxes of ±SLACK_DEG around a position, and a vehicle is re-inserted only when
 * it leaves its box: a moving vehicle touches the R-tree every few hundred metres instead of on
 * every point. Queries search the tree, then test the exact current position.
 */
const SLACK_DEG = 0.002;
/**
 * The tree's boxes are in whole microdegrees, rounded outwards (queries too): ±180° is well
 * inside V8's small integers, so an entry's four corners are stored in it rather than as four
 * boxed doubles beside it, and the same for the tree's nodes.
 */
const UNITS_PER_DEG = 1_000_000;
const SLACK = SLACK_DEG * UNITS_PER_DEG;

/** The node-local StateIndex: current views by id plus an R-tree over positions. */
export class SpatialStateIndex implements StateIndex {
  private readonly tree = new RBush<Entry>(16);
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  upsert(view: VehicleView, moved: boolean): void {
    const e = this.entries.get(view.id);
    if (e === undefined) {
      const entry: Entry = { minX: 0, minY: 0, maxX: 0, maxY: 0, view };
      box(entry, view);
      this.entries.set(view.id, entry);
      this.tree.insert(entry);
      return;
    }
    e.view = view;
    const x = view.lon * UNITS_PER_DEG;
    const y = view.lat * UNITS_PER_DEG;
    if (moved && (x < e.minX || x > e.maxX || y < e.minY || y > e.maxY)) {
      this.tree.remove(e);
      box(e, view);
      this.tree.insert(e);
    }
  }

  upsertMany(views: readonly VehicleView[]): void {
    const fresh: Entry[] = [];
    for (const view of views) {
      if (this.entries.has(view.id)) {
        this.upsert(view, true);
        continue;
      }
      const entry: Entry = { minX: 0, minY: 0, maxX: 0, maxY: 0, view };
      box(entry, view);
      this.entries.set(view.id, entry);
      fresh.push(entry);
    }
    this.tree.load(fresh);
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.tree.remove(e);
    this.entries.delete(id);
  }

  removeMany(ids: Iterable<string>): void {
    const gone: Entry[] = [];
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e === undefined) continue;
      gone.push(e);
      this.entries.delete(id);
    }
    if (gone.length === 0) return;
    // Each tree removal searches the tree (about 10 µs at 1M entries); past a quarter of the
    // entries one rebuild from the remaining ones is cheaper.
    if (gone.length * 4 >= this.entries.size + gone.length) {
      this.tree.clear();
      this.tree.load([...this.entries.values()]);
    } else {
      for (const e of gone) this.tree.remove(e);
    }
  }

  clear(): void {
    this.tree.clear();
    this.entries.clear();
  }

  get(id: string): VehicleView | undefined {
    return this.entries.get(id)?.view;
  }

  query(q: StateQuery): VehicleView[] {
    const limit = q.limit ?? Infinity;
    const companies = q.companies ? new Set(q.companies) : undefined;
    const out: VehicleView[] = [];
    const where = q.where;
    const accept = (v: VehicleView): boolean => matches(v, q.grant, companies, q.bbox) && (where === undefined || where(v));
    if (q.ids) {
      for (const id of q.ids) {
        const v = this.entries.get(id)?.view;
        if (v && accept(v)) out.push(v);
        if (out.length >= limit) break;
      }
      return out;
    }
    if (q.bbox) {
      const [w, s, e, n] = q.bbox;
      const boxes = w <= e ? [[w, s, e, n]] : [[w, s, 180, n], [-180, s, e, n]];
      // A box across the antimeridian is searched as two; an entry's slack may reach into both.
      const seen = boxes.length > 1 ? new Set<string>() : null;
      for (const [minX, minY, maxX, maxY] of boxes) {
        const units = { minX: Math.floor(minX * UNITS_PER_DEG), minY: Math.floor(minY * UNITS_PER_DEG), maxX: Math.ceil(maxX * UNITS_PER_DEG), maxY: Math.ceil(maxY * UNITS_PER_DEG) };
        for (const hit of this.tree.search(units)) {
          if (seen !== null) {
            if (seen.has(hit.view.id)) continue;
            seen.add(hit.view.id);
          }
          if (accept(hit.view)) out.push(hit.view);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
    for (const e of this.entries.values()) {
      if (accept(e.view)) out.push(e.view);
      if (out.length >= limit) break;
    }
    return out;
  }
}

function box(e: Entry, v: VehicleView): void {
  const x = v.lon * UNITS_PER_DEG;
  const y = v.lat * UNITS_PER_DEG;
  e.minX = Math.floor(x - SLACK);
  e.maxX = Math.ceil(x + SLACK);
  e.minY = Math.floor(y - SLACK);
  e.maxY = Math.ceil(y + SLACK);
}
