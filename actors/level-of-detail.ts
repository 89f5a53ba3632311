import { FleetlineError } from './domain/errors.js';

/**
 * What a subscription asks for at low zoom: at most one entry per vehicle every
 * `minIntervalMs`, or counts per map cell (`clusters`) instead of vehicles.
 */
export type LevelOfDetail = { readonly minIntervalMs: number } | 'clusters';

const MAX_INTERVAL_MS = 60_000;

/** Parses a `sub` frame's `lod`; clusters need the zoom, which sizes the cells. Throws BAD_SUBSCRIPTION. */
export function parseLevelOfDetail(v: unknown, zoom: number | undefined): LevelOfDetail | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'clusters') {
    if (zoom === undefined) throw new FleetlineError('BAD_SUBSCRIPTION', 'lod "clusters" needs a zoom (the cell size follows it)');
    return 'clusters';
  }
  const ms = typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>).minIntervalMs : undefined;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_INTERVAL_MS || Object.keys(v as object).length !== 1) {
    throw new FleetlineError('BAD_SUBSCRIPTION', `lod must be "clusters" or {minIntervalMs} with an integer in [0, ${MAX_INTERVAL_MS}]`);
  }
  return { minIntervalMs: ms };
}

/** Degrees per cell side at `zoom`: a quarter of a 256-pixel web-map tile (64 px). */
export function cellDegrees(zoom: number): number {
  return 360 / 2 ** (Math.floor(zoom) + 2);
}

export interface ClusterCell {
  /** The cell's centre. */
  readonly lat: number;
  readonly lon: number;
  /** Vehicles in scope inside the cell. */
  readonly n: number;
}

/**
 * Counts of a subscription's vehicles per cell of a grid in degrees. `dirty` says the counts
 * changed since the last `cells()` (a vehicle moving within its cell changes nothing).
 */
export class ClusterGrid {
  private readonly size: number;
  private readonly cellOf = new Map<string, number>();
  private readonly counts = new Map<number, number>();
  private readonly columns: number;
  dirty = false;

  constructor(zoom: number) {
    this.size = cellDegrees(zoom);
    this.columns = Math.ceil(360 / this.size) + 1;
  }

  has(id: string): boolean {
    return this.cellOf.has(id);
  }

  ids(): IterableIterator<string> {
    return this.cellOf.keys();
  }

  get vehicles(): number {
    return this.cellOf.size;
  }

  place(id: string, lat: number, lon: number): void {
    const cell = Math.floor((lat + 90) / this.size) * this.columns + Math.floor((lon + 180) / this.size);
    const before = this.cellOf.get(id);
    if (before === cell) return;
    if (before !== undefined) this.decrement(before);
    this.cellOf.set(id, cell);
    this.counts.set(cell, (this.counts.get(cell) ?? 0) + 1);
    this.dirty = true;
  }

  remove(id: string): void {
    const before = this.cellOf.get(id);
    if (before === undefined) return;
    this.cellOf.delete(id);
    this.decrement(before);
    this.dirty = true;
  }

  /** Every non-empty cell; clears `dirty`. */
  cells(): ClusterCell[] {
    this.dirty = false;
    const out: ClusterCell[] = [];
    for (const [cell, n] of this.counts) {
      const row = Math.floor(cell / this.columns);
      const col = cell - row * this.columns;
      out.push({ lat: -90 + (row + 0.5) * this.size, lon: -180 + (col + 0.5) * this.size, n });
    }
    return out;
  }

  private decrement(cell: number): void {
    const n = (this.counts.get(cell) ?? 1) - 1;
    if (n > 0) this.counts.set(cell, n);
    else this.counts.delete(cell);
  }
}

/** Per-vehicle rate limit of a `{minIntervalMs}` subscription: when each vehicle last went out. */
export class VehicleRateLimit {
  private readonly lastSent = new Map<string, number>();

  constructor(readonly minIntervalMs: number) {}

  ready(id: string, now: number): boolean {
    const at = this.lastSent.get(id);
    return at === undefined || now - at >= this.minIntervalMs;
  }

  sent(id: string, now: number): void {
    this.lastSent.set(id, now);
  }

  forget(id: string): void {
    this.lastSent.delete(id);
  }
}
