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
 * (see `tsx loadtest/route-simulator.ts` for a measurement).
 *
 * Device ids are `${devicePrefix}${n}` with n = 1..devices (the same numbering as
 * `demoFleet` in loadtest/demo-fleet.ts).
 */

import { pathToFileURL } from 'node:url';

export interface SimulatorOptions {
  devices: number;
  seed?: number;
  center?: [lat: number, lon: number];
  radiusKm?: number;
  /** default 'dev-' */
  devicePrefix?: string;
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

export const DEFAULT_CENTER: [number, number] = [52.52, 13.405];
export const DEFAULT_RADIUS_KM = 15;

const M_PER_DEG_LAT = 111_320;
/** Distance between neighbouring intersections (before jitter). */
const GRID_SPACING_M = 400;
/** Every n-th street (in both directions) is an arterial road. */
const ARTERIAL_EVERY = 6;
/** Intersections are moved by up to this fraction of the spacing, so streets are not ruler-straight. */
const JITTER = 0.22;
/** Beyond this distance from the centre arterials become fast roads (up to 90 km/h). */
const OUTER_RING_M = 7_000;

/** Simulation substep (s): a long gap between ticks is simulated in steps of at most this. */
const MAX_STEP_S = 1;
/** At most this many substeps per tick; longer gaps are simulated in coarser steps. */
const MAX_SUBSTEPS = 300;

const ACCEL = 1.5; // m/s², gentle city acceleration
const DECEL = 2.0; // m/s², planned braking
const HARD_DECEL = 4.0; // m/s², when the allowed speed drops below the current one
const TURN_SPEED = 5.5; // m/s ≈ 20 km/h through a turn
const CREEP_SPEED = 1.0; // m/s, so a vehicle braking to a stop line always reaches it

const LIGHT_STOP_P_ARTERIAL = 0.22;
const LIGHT_STOP_P_LOCAL = 0.08;
const STRAIGHT_ON_P = 0.8;

const IDLE_FUEL_L_PER_S = 0.8 / 3600; // ≈0.8 L/h with the engine idling
const REFUEL_L_PER_S = 0.5; // a pump delivers ~30 L/min

// vehicle states
const DRIVING = 0;
const AT_LIGHT = 1;
const PARKED = 2;

// what happens at the end of the current segment
const END_PASS = 0;
const END_LIGHT = 1;
const END_DEST = 2;

/** 32-bit integer hash of three numbers (murmur3-style finaliser), for seeding and the grid. */
function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ Math.imul(c, 0x27d4eb2f), 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export class RouteSimulator {
  /** The device ids, in order. */
  readonly deviceIds: readonly string[];
  readonly center: readonly [number, number];
  readonly radiusKm: number;
  readonly seed: number;

  // --- street grid ---
  private readonly gridHalf: number; // grid indices run 0..2*gridHalf in both directions
  private readonly gridSize: number;
  private readonly nodeX: Float64Array; // metres east of the centre
  private readonly nodeY: Float64Array; // metres north of the centre
  private readonly radiusM: number;
  private readonly mPerDegLon: number;

  // --- per-device state (index = device number - 1) ---
  private readonly rng: Uint32Array;
  private readonly state: Uint8Array;
  private readonly endKind: Uint8Array;
  private readonly refuel: Uint8Array;
  private readonly fromNode: Int32Array;
  private readonly toNode: Int32Array;
  private readonly nextNode: Int32Array; // -1 when toNode is the destination
  private readonly destNode: Int32Array;
  private readonly segPos: Float64Array; // metres along from→to
  private readonly segLen: Float64Array;
  private readonly speed: Float64Array; // m/s
  private readonly cruise: Float32Array; // m/s for the current segment
  private readonly endSpeed: Float32Array; // m/s allowed at the end of the segment
  private readonly course: Float32Array;
  private readonly until: Float64Array; // sim seconds when the light turns green / the park ends
  private readonly ignitionOffAt: Float64Array; // sim seconds when a parked vehicle switches off
  private readonly odometerM: Float64Array;
  private readonly fuel: Float64Array; // litres
  private readonly tank: Float32Array; // litres
  private readonly consumption: Float32Array; // litres per km
  private readonly lastTs: Float64Array;

  private simTime = 0; // seconds since the first tick
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
    this.radiusKm = radiusKm;
    this.seed = (opts.seed ?? 1) >>> 0;
    this.radiusM = radiusKm * 1000;
    this.mPerDegLon = M_PER_DEG_LAT * Math.cos((lat0 * Math.PI) / 180);

    const prefix = opts.devicePrefix ?? 'dev-';
    const ids: string[] = new Array(n);
    for (let i = 0; i < n; i++) ids[i] = `${prefix}${i + 1}`;
    this.deviceIds = Object.freeze(ids);

    // Street grid covering the square around the disc, with a little margin.
    this.gridHalf = Math.max(2, Math.ceil(this.radiusM / GRID_SPACING_M) + 1);
    this.gridSize = 2 * this.gridHalf + 1;
    const nodes = this.gridSize * this.gridSize;
    this.nodeX = new Float64Array(nodes);
    this.nodeY = new Float64Array(nodes);
    for (let j = 0; j < this.gridSize; j++) {
      for (let i = 0; i < this.gridSize; i++) {
        const k = j * this.gridSize + i;
        // Arterials stay straighter than side streets.
        const jx = i % ARTERIAL_EVERY === 0 ? 0.25 : 1;
        const jy = j % ARTERIAL_EVERY === 0 ? 0.25 : 1;
        const hx = hash3(this.seed, i, j * 2) / 4294967296 - 0.5;
        const hy = hash3(this.seed, i, j * 2 + 1) / 4294967296 - 0.5;
        this.nodeX[k] = (i - this.gridHalf) * GRID_SPACING_M + 2 * hx * JITTER * GRID_SPACING_M * jx;
        this.nodeY[k] = (j - this.gridHalf) * GRID_SPACING_M + 2 * hy * JITTER * GRID_SPACING_M * jy;
      }
    }

    this.rng = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.endKind = new Uint8Array(n);
    this.refuel = new Uint8Array(n);
    this.fromNode = new Int32Array(n);
    this.toNode = new Int32Array(n);
    this.nextNode = new Int32Array(n);
    this.destNode = new Int32Array(n);
    this.segPos = new Float64Array(n);
    this.segLen = new Float64Array(n);
    this.speed = new Float64Array(n);
    this.cruise = new Float32Array(n);
    this.endSpeed = new Float32Array(n);
    this.course = new Float32Array(n);
    this.until = new Float64Array(n);
    this.ignitionOffAt = new Float64Array(n);
    this.odometerM = new Float64Array(n);
    this.fuel = new Float64Array(n);
    this.tank = new Float32Array(n);
    this.consumption = new Float32Array(n);
    this.lastTs = new Float64Array(n);

    for (let d = 0; d < n; d++) this.initDevice(d);
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
      const n = this.deviceIds.length;
      for (let s = 0; s < steps; s++) {
        this.simTime += h;
        for (let d = 0; d < n; d++) this.step(d, h);
      }
    }
    return this.emit(Math.floor(now));
  }

  // ------------------------------------------------------------------ internals

  /** mulberry32 over the device's own state. */
  private rand(d: number): number {
    const a = (this.rng[d] + 0x6d2b79f5) >>> 0;
    this.rng[d] = a;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private initDevice(d: number): void {
    this.rng[d] = hash3(this.seed, d, 0x51ed);
    this.tank[d] = 45 + Math.floor(this.rand(d) * 8) * 5; // 45..80 L
    this.fuel[d] = this.tank[d] * (0.2 + 0.8 * this.rand(d));
    this.consumption[d] = 0.07 + 0.07 * this.rand(d);
    this.odometerM[d] = (5_000 + 195_000 * this.rand(d)) * 1000;

    const start = this.randomNodeInDisc(d);
    this.toNode[d] = start;
    this.fromNode[d] = start;
    this.course[d] = Math.floor(this.rand(d) * 4) * 90;
    if (this.rand(d) < 0.2) {
      // Starts parked, ignition off, for up to 10 minutes.
      this.state[d] = PARKED;
      this.until[d] = this.rand(d) * 600;
      this.ignitionOffAt[d] = 0;
      this.segPos[d] = 0;
      this.segLen[d] = 0;
      this.nextNode[d] = -1;
      this.destNode[d] = start;
    } else {
      this.depart(d);
      // Start somewhere along the first segment, already rolling.
      this.segPos[d] = this.rand(d) * this.segLen[d] * 0.8;
      this.speed[d] = this.cruise[d] * (0.3 + 0.7 * this.rand(d));
    }
  }

  private randomNodeInDisc(d: number): number {
    const r = this.radiusM * Math.sqrt(this.rand(d)) * 0.97;
    const a = this.rand(d) * 2 * Math.PI;
    return this.nearestNode(r * Math.cos(a), r * Math.sin(a));
  }

  private nearestNode(x: number, y: number): number {
    const g = this.gridSize;
    const i = Math.min(g - 1, Math.max(0, Math.round(x / GRID_SPACING_M) + this.gridHalf));
    const j = Math.min(g - 1, Math.max(0, Math.round(y / GRID_SPACING_M) + this.gridHalf));
    return j * g + i;
  }

  /** Picks a new destination at least ~1 km (grid distance) away and starts the first segment. */
  private depart(d: number): void {
    const here = this.toNode[d];
    const g = this.gridSize;
    const hi = here % g;
    const hj = (here / g) | 0;
    let dest = here;
    for (let tries = 0; tries < 12; tries++) {
      const cand = this.randomNodeInDisc(d);
      const manhattan = Math.abs((cand % g) - hi) + Math.abs(((cand / g) | 0) - hj);
      if (manhattan >= 3) {
        dest = cand;
        break;
      }
    }
    if (dest === here) {
      // Tiny radius: go to a neighbouring intersection.
      dest = hi + 1 < g ? here + 1 : here - 1;
    }
    this.destNode[d] = dest;
    this.state[d] = DRIVING;
    this.refuel[d] = 0;
    this.speed[d] = 0;
    const first = this.planStep(d, here, -1);
    this.enterSegment(d, here, first);
  }

  /** The intersection after `at` on the way to the destination, or -1 when `at` is the destination. */
  private planStep(d: number, at: number, cameFrom: number): number {
    const g = this.gridSize;
    const dest = this.destNode[d];
    if (at === dest) return -1;
    const ai = at % g;
    const aj = (at / g) | 0;
    const di = (dest % g) - ai;
    const dj = ((dest / g) | 0) - aj;
    const stepX = di === 0 ? 0 : di > 0 ? 1 : -1;
    const stepY = dj === 0 ? 0 : dj > 0 ? g : -g;
    if (stepX === 0) return at + stepY;
    if (stepY === 0) return at + stepX;
    // Both axes still to go: keep the current direction most of the time.
    const heading = cameFrom < 0 ? 0 : at - cameFrom;
    if (heading === stepX || heading === stepY) {
      if (this.rand(d) < STRAIGHT_ON_P) return at + heading;
      return at + (heading === stepX ? stepY : stepX);
    }
    return this.rand(d) * (Math.abs(di) + Math.abs(dj)) < Math.abs(di) ? at + stepX : at + stepY;
  }

  /** Starts driving from `from` to `to` (which is not -1). */
  private enterSegment(d: number, from: number, to: number): void {
    const g = this.gridSize;
    this.fromNode[d] = from;
    this.toNode[d] = to;
    this.segPos[d] = 0;
    const dx = this.nodeX[to] - this.nodeX[from];
    const dy = this.nodeY[to] - this.nodeY[from];
    this.segLen[d] = Math.sqrt(dx * dx + dy * dy);
    let c = (Math.atan2(dx, dy) * 180) / Math.PI;
    if (c < 0) c += 360;
    if (c >= 360) c -= 360;
    this.course[d] = c;

    // Road class: a segment lies on street column i (north-south) or row j (east-west).
    const vertical = Math.abs(to - from) === g;
    const line = vertical ? from % g : (from / g) | 0;
    const arterial = line % ARTERIAL_EVERY === 0;
    const mx = (this.nodeX[from] + this.nodeX[to]) / 2;
    const my = (this.nodeY[from] + this.nodeY[to]) / 2;
    const outer = mx * mx + my * my > OUTER_RING_M * OUTER_RING_M;
    const r = this.rand(d);
    const kmh = arterial ? (outer ? 60 + 30 * r : 45 + 25 * r) : 22 + 28 * r;
    this.cruise[d] = kmh / 3.6;

    const next = this.planStep(d, to, from);
    this.nextNode[d] = next;
    if (next < 0) {
      this.endKind[d] = END_DEST;
      this.endSpeed[d] = 0;
    } else if (this.rand(d) < (arterial ? LIGHT_STOP_P_ARTERIAL : LIGHT_STOP_P_LOCAL)) {
      this.endKind[d] = END_LIGHT;
      this.endSpeed[d] = 0;
    } else {
      this.endKind[d] = END_PASS;
      const turning = next - to !== to - from;
      this.endSpeed[d] = turning ? TURN_SPEED : 1e9;
    }
  }

  private step(d: number, h: number): void {
    const t = this.simTime;
    const st = this.state[d];
    if (st === PARKED) {
      if (t < this.ignitionOffAt[d]) {
        this.fuel[d] = Math.max(0, this.fuel[d] - IDLE_FUEL_L_PER_S * h);
      } else if (this.refuel[d] === 1) {
        // Refuel a minute after switching off, at pump speed.
        if (t > this.ignitionOffAt[d] + 60) {
          const f = this.fuel[d] + REFUEL_L_PER_S * h;
          if (f >= this.tank[d]) {
            this.fuel[d] = this.tank[d];
            this.refuel[d] = 0;
          } else this.fuel[d] = f;
        }
      }
      if (t >= this.until[d]) this.depart(d);
      return;
    }
    if (st === AT_LIGHT) {
      this.fuel[d] = Math.max(0, this.fuel[d] - IDLE_FUEL_L_PER_S * h);
      if (t >= this.until[d]) {
        this.state[d] = DRIVING;
        this.enterSegment(d, this.toNode[d], this.nextNode[d]);
      }
      return;
    }

    // DRIVING
    const rem = this.segLen[d] - this.segPos[d];
    const cruise = this.cruise[d];
    const endV = this.endSpeed[d];
    let allowed = cruise;
    if (endV < cruise) {
      const brake = Math.sqrt(endV * endV + 2 * DECEL * rem);
      if (brake < allowed) allowed = brake;
    }
    let v = this.speed[d];
    if (v < allowed) {
      v += ACCEL * h;
      if (v > allowed) v = allowed;
    } else {
      v -= HARD_DECEL * h;
      if (v < allowed) v = allowed;
    }
    if (v < CREEP_SPEED) v = CREEP_SPEED;
    const adv = v * h;
    if (adv < rem) {
      this.segPos[d] += adv;
      this.speed[d] = v;
      this.drive(d, adv, h);
      return;
    }

    // Reached the intersection at the end of the segment.
    this.drive(d, rem, h);
    const kind = this.endKind[d];
    if (kind === END_DEST) {
      this.segPos[d] = this.segLen[d];
      this.speed[d] = 0;
      this.state[d] = PARKED;
      const r = this.rand(d);
      // Mostly short stops (deliveries), sometimes long ones.
      const park = r < 0.7 ? 60 + 240 * this.rand(d) : 300 + 1500 * this.rand(d);
      // Idle with the engine on for a moment; sometimes for several minutes.
      const idle = this.rand(d) < 0.1 ? 120 + 240 * this.rand(d) : 5 + 40 * this.rand(d);
      this.ignitionOffAt[d] = t + Math.min(idle, park);
      const low = this.fuel[d] < this.tank[d] * 0.25;
      if (low || this.rand(d) < 0.04) {
        this.refuel[d] = 1;
        this.until[d] = t + Math.max(park, idle + 60 + (this.tank[d] - this.fuel[d]) / REFUEL_L_PER_S + 30);
      } else this.until[d] = t + park;
    } else if (kind === END_LIGHT) {
      this.segPos[d] = this.segLen[d];
      this.speed[d] = 0;
      this.state[d] = AT_LIGHT;
      this.until[d] = t + 8 + 42 * this.rand(d);
    } else {
      const carry = adv - rem;
      this.speed[d] = v;
      this.enterSegment(d, this.toNode[d], this.nextNode[d]);
      const room = this.segLen[d] * 0.5;
      const extra = carry < room ? carry : room;
      this.segPos[d] = extra;
      this.odometerM[d] += extra;
      this.fuel[d] = Math.max(0, this.fuel[d] - (extra / 1000) * this.consumption[d]);
    }
  }

  private drive(d: number, metres: number, h: number): void {
    this.odometerM[d] += metres;
    const f = this.fuel[d] - (metres / 1000) * this.consumption[d] - IDLE_FUEL_L_PER_S * h * 0.5;
    this.fuel[d] = f > 0 ? f : 0;
  }

  private emit(now: number): RawPoint[] {
    const n = this.deviceIds.length;
    const out: RawPoint[] = new Array(n);
    const [lat0, lon0] = this.center;
    const mPerDegLon = this.mPerDegLon;
    const t = this.simTime;
    for (let d = 0; d < n; d++) {
      const from = this.fromNode[d];
      const to = this.toNode[d];
      const len = this.segLen[d];
      const f = len > 0 ? this.segPos[d] / len : 1;
      const x = this.nodeX[from] + (this.nodeX[to] - this.nodeX[from]) * f;
      const y = this.nodeY[from] + (this.nodeY[to] - this.nodeY[from]) * f;
      let lat = lat0 + y / M_PER_DEG_LAT;
      if (lat > 90) lat = 90;
      else if (lat < -90) lat = -90;
      let lon = lon0 + x / mPerDegLon;
      if (lon > 180) lon -= 360;
      else if (lon < -180) lon += 360;

      let ts = now;
      if (ts <= this.lastTs[d]) ts = this.lastTs[d] + 1;
      this.lastTs[d] = ts;

      const st = this.state[d];
      const moving = st === DRIVING;
      let course = Math.round(this.course[d] * 10) / 10;
      if (course >= 360) course = 0;
      out[d] = {
        deviceId: this.deviceIds[d],
        ts,
        lat: round(lat, 6),
        lon: round(lon, 6),
        speed: moving ? Math.round(this.speed[d] * 36) / 10 : 0,
        course,
        ignition: st !== PARKED || t < this.ignitionOffAt[d],
        fuel: Math.round(this.fuel[d] * 10) / 10,
        odometer: Math.round(this.odometerM[d]) / 1000,
      };
    }
    return out;
  }
}

/** `tsx loadtest/route-simulator.ts [devices] [ticks]`: measures the cost of one tick. */
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
