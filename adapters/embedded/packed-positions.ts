import type { PositionRow } from '../../actors/ports/history-store.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';

type Attributes = NonNullable<TelemetryPoint['attrs']>;

/** Numbers kept per position, in this order; NaN marks one the point did not carry. */
const TS = 0;
const LAT = 1;
const LON = 2;
const SPEED = 3;
const COURSE = 4;
const ALT = 5;
const FUEL = 6;
const ODOMETER = 7;
const NUMBERS = 8;

const IGNITION_ABSENT = 0;
const IGNITION_OFF = 1;
const IGNITION_ON = 2;

/**
 * One checkpoint's written positions, kept compact for a crashed actor's replay: the numbers in
 * one unboxed double array, ignition in a byte, the ids and the rare attribute maps beside them.
 * Kept as the checkpoint's own row objects, a million positions were ~210 MiB of small objects
 * that lived for a minute: promoted out of the young generation and marked by every full
 * collection meanwhile (`npm run bench:apply` spent ~15 % more CPU per point with them kept
 * than with none). Packed, a million positions hold ~80 MB of heap (the id strings) and ~65 MB
 * of array buffers, and the point objects die young.
 */
export class PackedPositions {
  readonly length: number;
  /** The newest point time among them (-Infinity when empty). */
  readonly maxTs: number;
  private readonly numbers: Float64Array;
  private readonly ignition: Uint8Array;
  private readonly vehicleIds: string[];
  private readonly deviceIds: string[];
  /** Attribute maps by row, for the rows that carry one. */
  private readonly attrs: Map<number, Attributes> | null;

  constructor(rows: readonly PositionRow[]) {
    const n = rows.length;
    this.length = n;
    this.numbers = new Float64Array(n * NUMBERS);
    this.ignition = new Uint8Array(n);
    this.vehicleIds = new Array<string>(n);
    this.deviceIds = new Array<string>(n);
    let attrs: Map<number, Attributes> | null = null;
    let maxTs = -Infinity;
    const v = this.numbers;
    for (let i = 0; i < n; i++) {
      const { vehicleId, point: p } = rows[i];
      const o = i * NUMBERS;
      v[o + TS] = p.ts;
      v[o + LAT] = p.lat;
      v[o + LON] = p.lon;
      v[o + SPEED] = p.speed ?? NaN;
      v[o + COURSE] = p.course ?? NaN;
      v[o + ALT] = p.alt ?? NaN;
      v[o + FUEL] = p.fuel ?? NaN;
      v[o + ODOMETER] = p.odometer ?? NaN;
      this.ignition[i] = p.ignition === undefined ? IGNITION_ABSENT : p.ignition ? IGNITION_ON : IGNITION_OFF;
      this.vehicleIds[i] = vehicleId;
      this.deviceIds[i] = p.deviceId;
      if (p.attrs !== undefined) (attrs ??= new Map()).set(i, p.attrs);
      if (p.ts > maxTs) maxTs = p.ts;
    }
    this.attrs = attrs;
    this.maxTs = maxTs;
  }

  /** Adds the vehicle's points newer than `afterTs` to `byTs`, a time not there yet only (the first written wins). */
  collect(vehicleId: string, afterTs: number, byTs: Map<number, TelemetryPoint>): void {
    for (let i = 0; i < this.length; i++) {
      if (this.vehicleIds[i] !== vehicleId) continue;
      const ts = this.numbers[i * NUMBERS + TS];
      if (ts > afterTs && !byTs.has(ts)) byTs.set(ts, this.point(i));
    }
  }

  /** Row i as the point it was written from (the fields it carried, none it did not). */
  private point(i: number): TelemetryPoint {
    const v = this.numbers;
    const o = i * NUMBERS;
    const p: { -readonly [K in keyof TelemetryPoint]: TelemetryPoint[K] } = { deviceId: this.deviceIds[i], ts: v[o + TS], lat: v[o + LAT], lon: v[o + LON] };
    if (!Number.isNaN(v[o + SPEED])) p.speed = v[o + SPEED];
    if (!Number.isNaN(v[o + COURSE])) p.course = v[o + COURSE];
    if (!Number.isNaN(v[o + ALT])) p.alt = v[o + ALT];
    if (this.ignition[i] !== IGNITION_ABSENT) p.ignition = this.ignition[i] === IGNITION_ON;
    if (!Number.isNaN(v[o + FUEL])) p.fuel = v[o + FUEL];
    if (!Number.isNaN(v[o + ODOMETER])) p.odometer = v[o + ODOMETER];
    const attrs = this.attrs?.get(i);
    if (attrs !== undefined) p.attrs = attrs;
    return p;
  }
}
