import type { TelemetryPoint } from './domain/telemetry-point.js';

/** ts, lat, lon, speed (NaN when the device sent none). */
const FIELDS = 4;

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

  /** The window as points, oldest first (for snapshots). */
  toPoints(deviceId: string): TelemetryPoint[] {
    const out: TelemetryPoint[] = [];
    for (let k = 0; k < this.length; k++) {
      const i = ((this.head + k) % this.capacity) * FIELDS;
      const d = this.data as number[];
      const speed = d[i + 3];
      out.push(Number.isNaN(speed) ? { deviceId, ts: d[i], lat: d[i + 1], lon: d[i + 2] } : { deviceId, ts: d[i], lat: d[i + 1], lon: d[i + 2], speed });
    }
    return out;
  }

  static from(points: readonly TelemetryPoint[], capacity: number): RecentTrack {
    const t = new RecentTrack(capacity);
    for (const p of points.slice(-capacity)) t.push(p);
    return t;
  }
}
