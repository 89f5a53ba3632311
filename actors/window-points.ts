import type { TelemetryPoint } from './domain/telemetry-point.js';

/** Numbers per point: ts, lat, lon, speed, course, alt, ignition (1, 0), fuel, odometer; NaN: absent. */
const FIELDS = 9;

/**
 * The points a vehicle's reorder window keeps for a rewind, their numbers in one array of
 * doubles and their device id and attributes beside it. Held as the decoded point objects they
 * cost ~170 bytes each (an object, an out-of-object property store, boxed numbers), a few per
 * resident vehicle; they are read back as objects only when a point arrives out of order.
 * A point's absent optional field is NaN here: validated points hold finite numbers only.
 */
export class WindowPoints {
  private nums: number[] = [];
  private refs: (TelemetryPoint['deviceId'] | TelemetryPoint['attrs'])[] = [];
  length = 0;

  push(p: TelemetryPoint): void {
    const n = this.nums;
    n.push(p.ts, p.lat, p.lon, p.speed ?? NaN, p.course ?? NaN, p.alt ?? NaN, p.ignition === undefined ? NaN : p.ignition ? 1 : 0, p.fuel ?? NaN, p.odometer ?? NaN);
    // Every point decodes its own copy of the device id: the window keeps one of them.
    const last = this.length > 0 ? this.refs[2 * (this.length - 1)] : undefined;
    this.refs.push(last === p.deviceId ? last : p.deviceId, p.attrs);
    this.length++;
  }

  tsAt(i: number): number {
    return this.nums[i * FIELDS];
  }

  /** The i-th point as an object (a rewind replays it). */
  at(i: number): TelemetryPoint {
    const n = this.nums;
    const o = i * FIELDS;
    const p: { -readonly [K in keyof TelemetryPoint]: TelemetryPoint[K] } = { deviceId: this.refs[2 * i] as string, ts: n[o], lat: n[o + 1], lon: n[o + 2] };
    if (!Number.isNaN(n[o + 3])) p.speed = n[o + 3];
    if (!Number.isNaN(n[o + 4])) p.course = n[o + 4];
    if (!Number.isNaN(n[o + 5])) p.alt = n[o + 5];
    if (!Number.isNaN(n[o + 6])) p.ignition = n[o + 6] === 1;
    if (!Number.isNaN(n[o + 7])) p.fuel = n[o + 7];
    if (!Number.isNaN(n[o + 8])) p.odometer = n[o + 8];
    const attrs = this.refs[2 * i + 1];
    if (attrs !== undefined) p.attrs = attrs as TelemetryPoint['attrs'];
    return p;
  }

  /** Forgets the first `count` points. */
  dropFirst(count: number): void {
    if (count <= 0) return;
    if (count >= this.length) {
      this.clear();
      return;
    }
    // Copies of what is left rather than splice(), which keeps the array's spare capacity from
    // every push since: once per window of point time, and a resident vehicle holds the copy.
    this.nums = this.nums.slice(count * FIELDS);
    this.refs = this.refs.slice(count * 2);
    this.length -= count;
  }

  /** Takes the points from `from` on out of the window, as objects. */
  takeFrom(from: number): TelemetryPoint[] {
    const out: TelemetryPoint[] = [];
    for (let i = from; i < this.length; i++) out.push(this.at(i));
    if (from < this.length) {
      this.nums.length = from * FIELDS;
      this.refs.length = from * 2;
      this.length = from;
    }
    return out;
  }

  clear(): void {
    this.nums.length = 0;
    this.refs.length = 0;
    this.length = 0;
  }
}
