/**
 * Deterministic simulator of N GPS trackers driving around a city.
 *
 * The city is a jittered street grid (one node every ~400 m, every 6th street an arterial)
 * around `center`. Each vehicle picks a random destination inside `radiusKm`, drives there
 * intersection by intersection (mostly straight, turning when it has to), accelerates and
 * brakes realistically (20–90 km/h depending on the road, slowing down for turns), sometimes
 * waits at a red light, then parks for a few minutes: idles with the ignition on for a
 * moment, switches it off, occasionally refuels, and sets off again to a new destination.
 * Course follows the street, the odometer grows with the distance driven, fuel drains with
 * distance and idling.
 *
 * Everything is seeded (mulberry32, one PRNG state per device), so a seed and the same
 * sequence of `tick(now)` calls always give the same points; a device's trajectory does not
 * depend on how many other devices are simulated. All per-device state lives in typed
 * arrays, so 5,000 devices ticking once a second cost well under a millisecond of simulation
 * (see `tsx engine/simulator/route-simulator.ts` for a measurement).
 *
 * Device ids are `${devicePrefix}${n}` with n = 1..devices (the same numbering as
 * `demoFleet` in engine/simulator/demo-fleet.ts).
 *
 * The city and route choice are in street-grid.ts, the per-vehicle state and driving model in
 * simulated-vehicles.ts; this file turns that state into points.
 */

import { pathToFileURL } from 'node:url';
import { DRIVING, PARKED, SimulatedVehicles } from './simulated-vehicles.js';
import { StreetGrid } from './street-grid.js';

interface SimulatorOptions {
  devices: number;
  seed?: number;
  center?: [lat: number, lon: number];
  radiusKm?: number;
  /** default 'dev-' */
  devicePrefix?: string;
  /**
   * Number of the first device (default 1): devices `firstDevice`..`firstDevice + devices - 1`,
   * each driving exactly as in a simulator of the whole fleet (the load-test harness splits a
   * fleet into slices and processes this way).
   */
  firstDevice?: number;
}

export interface RawPoint {
  deviceId: string;
  /** ms since epoch, strictly increasing per device */
  ts: number;
  lat: number;
  lon: number;
  /** km/h, >= 0 */
  speed: number;
  /** degrees clockwise from north, in [0, 360) */
  course: number;
  ignition: boolean;
  /** litres in the tank */
  fuel: number;
  /** km */
  odometer: number;
}

const DEFAULT_CENTER: [number, number] = [52.52, 13.405];
const DEFAULT_RADIUS_KM = 15;

const M_PER_DEG_LAT = 111_320;

/** Simulation substep (s): a long gap between ticks is simulated in steps of at most this. */
const MAX_STEP_S = 1;
/** At most this many substeps per tick; longer gaps are simulated in coarser steps. */
const MAX_SUBSTEPS = 300;

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export class RouteSimulator {
  /** The device ids, in order. */
  readonly deviceIds: readonly string[];
  readonly center: readonly [number, number];

  private readonly grid: StreetGrid;
  private readonly vehicles: SimulatedVehicles;
  private readonly mPerDegLon: number;
  /** Per device: ts of the last point emitted (points are strictly increasing per device). */
  private readonly lastTs: Float64Array;

  private lastNow = Number.NaN;

  constructor(opts: SimulatorOptions) {
    const n = opts.devices;
    if (!Number.isInteger(n) || n < 0) throw new RangeError('devices must be an integer >= 0');
    const center = opts.center ?? DEFAULT_CENTER;
    const [lat0, lon0] = center;
    if (!Number.isFinite(lat0) || !Number.isFinite(lon0) || Math.abs(lat0) > 85 || Math.abs(lon0) > 180) {
      throw new RangeError('center must be [lat, lon] with |lat| <= 85 and |lon| <= 180');
    }
    const radiusKm = opts.radiusKm ?? DEFAULT_RADIUS_KM;
    if (!Number.isFinite(radiusKm) || radiusKm <= 0 || radiusKm > 500) throw new RangeError('radiusKm must be in (0, 500]');
    this.center = [lat0, lon0];
    const seed = (opts.seed ?? 1) >>> 0;
    const radiusM = radiusKm * 1000;
    this.mPerDegLon = M_PER_DEG_LAT * Math.cos((lat0 * Math.PI) / 180);

    const prefix = opts.devicePrefix ?? 'dev-';
    const first = opts.firstDevice ?? 1;
    if (!Number.isInteger(first) || first < 1) throw new RangeError('firstDevice must be an integer >= 1');
    const ids: string[] = new Array(n);
    for (let i = 0; i < n; i++) ids[i] = `${prefix}${first + i}`;
    this.deviceIds = Object.freeze(ids);

    this.grid = new StreetGrid(seed, radiusM);
    this.vehicles = new SimulatedVehicles(n, seed, this.grid, first - 1);
    this.lastTs = new Float64Array(n);
  }

  /** Advances every device to `now` (ms since epoch) and returns one point per device, in `deviceIds` order. */
  tick(now: number): RawPoint[] {
    if (!Number.isFinite(now)) throw new RangeError('now must be a finite number of ms');
    // The first tick only fixes the clock; a clock that goes backwards simulates nothing.
    let dt = 0;
    if (Number.isNaN(this.lastNow)) this.lastNow = now;
    else if (now > this.lastNow) {
      dt = (now - this.lastNow) / 1000;
      this.lastNow = now;
    }

    if (dt > 0) {
      let steps = Math.ceil(dt / MAX_STEP_S);
      if (steps > MAX_SUBSTEPS) steps = MAX_SUBSTEPS;
      const h = dt / steps;
      for (let s = 0; s < steps; s++) this.vehicles.advance(h);
    }
    return this.emit(Math.floor(now));
  }

  private emit(now: number): RawPoint[] {
    const n = this.deviceIds.length;
    const out: RawPoint[] = new Array(n);
    const [lat0, lon0] = this.center;
    const mPerDegLon = this.mPerDegLon;
    const { nodeX, nodeY } = this.grid;
    const { state, fromNode, toNode, segPos, segLen, speed, ignitionOffAt, odometerM, fuel } = this.vehicles;
    const t = this.vehicles.simTime;
    for (let d = 0; d < n; d++) {
      const from = fromNode[d];
      const to = toNode[d];
      const len = segLen[d];
      const f = len > 0 ? segPos[d] / len : 1;
      const x = nodeX[from] + (nodeX[to] - nodeX[from]) * f;
      const y = nodeY[from] + (nodeY[to] - nodeY[from]) * f;
      let lat = lat0 + y / M_PER_DEG_LAT;
      if (lat > 90) lat = 90;
      else if (lat < -90) lat = -90;
      let lon = lon0 + x / mPerDegLon;
      if (lon > 180) lon -= 360;
      else if (lon < -180) lon += 360;

      let ts = now;
      if (ts <= this.lastTs[d]) ts = this.lastTs[d] + 1;
      this.lastTs[d] = ts;

      const st = state[d];
      const moving = st === DRIVING;
      let course = Math.round(this.vehicles.course[d] * 10) / 10;
      if (course >= 360) course = 0;
      out[d] = {
        deviceId: this.deviceIds[d],
        ts,
        lat: round(lat, 6),
        lon: round(lon, 6),
        speed: moving ? Math.round(speed[d] * 36) / 10 : 0,
        course,
        ignition: st !== PARKED || t < ignitionOffAt[d],
        fuel: Math.round(fuel[d] * 10) / 10,
        odometer: Math.round(odometerM[d]) / 1000,
      };
    }
    return out;
  }
}

/** `tsx engine/simulator/route-simulator.ts [devices] [ticks]`: measures the cost of one tick. */
async function main(): Promise<void> {
  const devices = Number(process.argv[2] ?? 5000);
  const ticks = Number(process.argv[3] ?? 600);
  const t0 = performance.now();
  const sim = new RouteSimulator({ devices, seed: 42 });
  const build = performance.now() - t0;
  let now = Date.now();
  sim.tick(now);
  // Warm-up so the JIT has compiled the hot paths.
  for (let i = 0; i < 60; i++) sim.tick((now += 1000));
  const costs: number[] = [];
  let moving = 0;
  for (let i = 0; i < ticks; i++) {
    now += 1000;
    const s = performance.now();
    const pts = sim.tick(now);
    costs.push(performance.now() - s);
    if (i === ticks - 1) moving = pts.filter((p) => p.speed > 0).length;
  }
  costs.sort((a, b) => a - b);
  const q = (p: number) => costs[Math.min(costs.length - 1, Math.floor(p * costs.length))].toFixed(3);
  const mean = costs.reduce((a, b) => a + b, 0) / costs.length;
  console.log(
    `route-simulator: ${devices} devices, ${ticks} ticks of 1 s: build ${build.toFixed(1)} ms; ` +
      `tick mean ${mean.toFixed(3)} ms, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; moving at the end: ${moving}`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
