import RBush from 'rbush';
import type { VehicleView } from './domain/vehicle-state.js';
import { granted, inBBox, type StateIndex, type StateQuery } from './ports/state-index.js';

interface Entry {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  view: VehicleView;
}

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
      const entry: Entry = { minX: view.lon, minY: view.lat, maxX: view.lon, maxY: view.lat, view };
      this.entries.set(view.id, entry);
      this.tree.insert(entry);
      return;
    }
    if (moved && (e.minX !== view.lon || e.minY !== view.lat)) {
      this.tree.remove(e);
      e.minX = e.maxX = view.lon;
      e.minY = e.maxY = view.lat;
      this.tree.insert(e);
    }
    e.view = view;
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.tree.remove(e);
    this.entries.delete(id);
  }

  get(id: string): VehicleView | undefined {
    return this.entries.get(id)?.view;
  }

  query(q: StateQuery): VehicleView[] {
    const limit = q.limit ?? Infinity;
    const companies = q.companies ? new Set(q.companies) : undefined;
    const out: VehicleView[] = [];
    const accept = (v: VehicleView): boolean => {
      if (!granted(q.grant, v.company)) return false;
      if (companies && (v.company === null || !companies.has(v.company))) return false;
      if (q.bbox && !inBBox(q.bbox, v.lon, v.lat)) return false;
      return true;
    };
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
      for (const [minX, minY, maxX, maxY] of boxes) {
        for (const hit of this.tree.search({ minX, minY, maxX, maxY })) {
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
