import RBush from 'rbush';
import { shapeBounds, shapeContains, type Geofence } from './domain/geofence.js';

/** How geofences act on the vehicles inside them (GEOFENCE_DWELL_S, GEOFENCE_SPEED_LIMIT). */
export interface GeofencePolicy {
  /** How long a vehicle must stay inside (outside) before geofence_enter (geofence_exit) fires. */
  readonly dwellMs: number;
  /** Several geofences with a limit hold the vehicle: the lowest or the highest of their limits applies. */
  readonly speedLimit: 'lowest' | 'highest';
}

export const DEFAULT_GEOFENCE_POLICY: GeofencePolicy = { dwellMs: 10_000, speedLimit: 'lowest' };

interface Entry {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  readonly fence: Geofence;
}

/**
 * Every geofence of the deployment, one R-tree per company: a point is checked against the
 * geofences of its vehicle's company whose box holds it, never against every geofence, and
 * never against another company's. One index per node, shared by all its vehicle actors;
 * changes from reference data apply in place, so the next point of every vehicle sees them.
 */
export class GeofenceIndex {
  private readonly trees = new Map<string, RBush<Entry>>();
  private readonly byId = new Map<string, Entry>();

  constructor(fences: Iterable<Geofence> = [], readonly policy: GeofencePolicy = DEFAULT_GEOFENCE_POLICY) {
    const perCompany = new Map<string, Entry[]>();
    for (const fence of fences) {
      const previous = this.byId.get(fence.id);
      const entry = toEntry(fence);
      this.byId.set(fence.id, entry);
      let list = perCompany.get(fence.companyId);
      if (list === undefined) perCompany.set(fence.companyId, (list = []));
      if (previous !== undefined) removeFrom(perCompany.get(previous.fence.companyId) ?? [], previous);
      list.push(entry);
    }
    // Bulk loading packs the tree far better than one insert at a time.
    for (const [company, entries] of perCompany) this.trees.set(company, new RBush<Entry>().load(entries));
  }

  /** Adds a geofence or replaces the one with its id (its company may change). */
  upsert(fence: Geofence): void {
    this.remove(fence.id);
    const entry = toEntry(fence);
    this.byId.set(fence.id, entry);
    let tree = this.trees.get(fence.companyId);
    if (tree === undefined) this.trees.set(fence.companyId, (tree = new RBush<Entry>()));
    tree.insert(entry);
  }

  remove(id: string): void {
    const entry = this.byId.get(id);
    if (entry === undefined) return;
    this.byId.delete(id);
    this.trees.get(entry.fence.companyId)?.remove(entry);
  }

  get(id: string): Geofence | undefined {
    return this.byId.get(id)?.fence;
  }

  list(): Geofence[] {
    return [...this.byId.values()].map((e) => e.fence);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Puts the geofences of `company` that contain (lat, lon) into `out` (emptied first). */
  containing(company: string, lat: number, lon: number, out: Geofence[]): void {
    out.length = 0;
    const tree = this.trees.get(company);
    if (tree === undefined) return;
    const box = QUERY;
    box.minX = box.maxX = lon;
    box.minY = box.maxY = lat;
    const candidates = tree.search(box);
    for (let i = 0; i < candidates.length; i++) {
      const fence = candidates[i].fence;
      if (shapeContains(fence.shape, lat, lon)) out.push(fence);
    }
  }
}

/** One reused query box: the index is used by one thread, one point at a time. */
const QUERY = { minX: 0, minY: 0, maxX: 0, maxY: 0 };

function toEntry(fence: Geofence): Entry {
  return { ...shapeBounds(fence.shape), fence };
}

function removeFrom(list: Entry[], entry: Entry): void {
  const i = list.indexOf(entry);
  if (i >= 0) list.splice(i, 1);
}
