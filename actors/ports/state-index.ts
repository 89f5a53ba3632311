import type { VehicleView } from '../domain/vehicle-state.js';

/** [west, south, east, north] in degrees. */
export type BBox = readonly [number, number, number, number];

export interface StateQuery {
  readonly bbox?: BBox;
  readonly companies?: readonly string[];
  readonly ids?: readonly string[];
  /** Tenant scope from the token: null = admin (everything). */
  readonly grant: ReadonlySet<string> | null;
  readonly limit?: number;
  /** A further test each result must pass (before the limit counts it). */
  readonly where?: (v: VehicleView) => boolean;
}

/**
 * Current state of every vehicle this node knows, with a spatial index, kept current by the
 * vehicle actors. Answers snapshot reads (HTTP and WebSocket `snap`).
 */
export interface StateIndex {
  upsert(view: VehicleView, moved: boolean): void;
  /** Adds many vehicles at once (restoring a partition): much faster than one upsert each. */
  upsertMany(views: readonly VehicleView[]): void;
  remove(id: string): void;
  /** Removes many vehicles at once (releasing a partition, stopping): much faster than one remove each. */
  removeMany(ids: Iterable<string>): void;
  /** Removes every vehicle (a stopping node). */
  clear(): void;
  get(id: string): VehicleView | undefined;
  query(q: StateQuery): VehicleView[];
  readonly size: number;
}

/** True when a vehicle of `company` is visible under `grant` (null grant = admin). */
export function granted(grant: ReadonlySet<string> | null, company: string | null): boolean {
  if (grant === null) return true;
  return company !== null && grant.has(company);
}

export function inBBox(b: BBox, lon: number, lat: number): boolean {
  return lat >= b[1] && lat <= b[3] && (b[0] <= b[2] ? lon >= b[0] && lon <= b[2] : lon >= b[0] || lon <= b[2]);
}

/** True when `v` is visible under `grant` and passes the optional company and box filters. */
export function matches(v: VehicleView, grant: ReadonlySet<string> | null, companies?: ReadonlySet<string>, bbox?: BBox): boolean {
  if (!granted(grant, v.company)) return false;
  if (companies && (v.company === null || !companies.has(v.company))) return false;
  return !bbox || inBBox(bbox, v.lon, v.lat);
}
