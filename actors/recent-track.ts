import type { TelemetryPoint } from './domain/telemetry-point.js';
import { RECENT_FIELDS } from './domain/vehicle-state.js';

/** ts, lat, lon, speed (NaN when the device sent none), as in a snapshot. */
const FIELDS = RECENT_FIELDS;

/**
 * A vehicle's rolling window of recent points, as a ring of numbers rather than point objects:
 * at a million resident vehicles the window is most of an actor's memory, and a flat array of
 * doubles is a quarter of what the decoded point objects (with their strings) would hold.
 */
export class RecentTrack {
  private data: number[] | null = null;
  private head = 0;
  length = 0;

  constructor(readonly capacity: number) {}

  push(p: TelemetryPoint): void {
    if (this.data === null) this.data = new Array<number>(this.capacity * FIELDS).fill(0.5);
    const i = ((this.head + this.length) % this.capacity) * FIELDS;
    this.data[i] = p.ts;
    this.data[i + 1] = p.lat;
    this.data[i + 2] = p.lon;
    this.data[i + 3] = p.speed ?? NaN;
    if (this.length < this.capacity) this.length++;
    else this.head = (this.head + 1) % this.capacity;
  }

  private index(k: number): number {
    return ((this.head + k) % this.capacity) * FIELDS;
  }

  /** The k-th point's ts, lat, lon (0: oldest). */
  tsAt(k: number): number {
    return (this.data as number[])[this.index(k)];
  }

  latAt(k: number): number {
    return (this.data as number[])[this.index(k) + 1];
  }

  lonAt(k: number): number {
    return (this.data as number[])[this.index(k) + 2];
  }

  /** Index of the first point newer than `ts` (length when none is). The window is in time order. */
  after(ts: number): number {
    let k = this.length;
    while (k > 0 && this.tsAt(k - 1) > ts) k--;
    return k;
  }

  /**
   * Puts a late point in its place in time (a rare path: the ring is rebuilt). When the window
   * is full the oldest point leaves it.
   */
  insert(p: TelemetryPoint): void {
    const k = this.after(p.ts);
    if (k === this.length) {
      this.push(p);
      return;
    }
    const flat = this.toFlat();
    flat.splice(k * FIELDS, 0, p.ts, p.lat, p.lon, p.speed ?? null);
    const rebuilt = RecentTrack.fromFlat(flat, this.capacity);
    this.data = rebuilt.data;
    this.head = rebuilt.head;
    this.length = rebuilt.length;
  }

  /** Drops the points newer than `ts` (the reorder window rewinds: they are applied again in order). */
  dropAfter(ts: number): void {
    while (this.length > 0 && this.tsAt(this.length - 1) > ts) this.length--;
  }

  /** The window, oldest first, in the snapshot's flat form (VehicleSnapshot.recent). */
  toFlat(): (number | null)[] {
    const out = new Array<number | null>(this.length * FIELDS);
    const d = this.data;
    if (d === null) return out;
    for (let k = 0; k < this.length; k++) {
      const i = ((this.head + k) % this.capacity) * FIELDS;
      const o = k * FIELDS;
      out[o] = d[i];
      out[o + 1] = d[i + 1];
      out[o + 2] = d[i + 2];
      out[o + 3] = Number.isNaN(d[i + 3]) ? null : d[i + 3];
    }
    return out;
  }

  /** A track from a snapshot's flat window, keeping its newest `capacity` points. */
  static fromFlat(flat: readonly (number | null)[], capacity: number): RecentTrack {
    const t = new RecentTrack(capacity);
    const points = Math.floor(flat.length / FIELDS);
    const first = Math.max(0, points - capacity);
    if (points === first) return t;
    const d = new Array<number>(capacity * FIELDS).fill(0.5);
    for (let k = first; k < points; k++) {
      const i = k * FIELDS;
      const o = (k - first) * FIELDS;
      d[o] = flat[i] ?? NaN;
      d[o + 1] = flat[i + 1] ?? NaN;
      d[o + 2] = flat[i + 2] ?? NaN;
      d[o + 3] = flat[i + 3] ?? NaN;
    }
    t.data = d;
    t.length = points - first;
    return t;
  }
}
