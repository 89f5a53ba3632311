import { DeviceRandom, hash3 } from './seeded-random.js';
import type { StreetGrid } from './street-grid.js';

const ACCEL = 1.5; // m/s², gentle city acceleration
const DECEL = 2.0; // m/s², planned braking
const HARD_DECEL = 4.0; // m/s², when the allowed speed drops below the current one
const TURN_SPEED = 5.5; // m/s ≈ 20 km/h through a turn
const CREEP_SPEED = 1.0; // m/s, so a vehicle braking to a stop line always reaches it

const LIGHT_STOP_P_ARTERIAL = 0.22;
const LIGHT_STOP_P_LOCAL = 0.08;

const IDLE_FUEL_L_PER_S = 0.8 / 3600; // ≈0.8 L/h with the engine idling
const REFUEL_L_PER_S = 0.5; // a pump delivers ~30 L/min

// vehicle states
export const DRIVING = 0;
const AT_LIGHT = 1;
export const PARKED = 2;

// what happens at the end of the current segment
const END_PASS = 0;
const END_LIGHT = 1;
const END_DEST = 2;

/**
 * The state of every simulated vehicle, one typed array per field (index = device number - 1),
 * and the driving model that advances it: drive a route segment by segment, brake for turns,
 * lights and the destination, wait at red lights, park (idle, switch off, maybe refuel), depart.
 * The public arrays are what RouteSimulator reads to emit points.
 */
export class SimulatedVehicles {
  readonly count: number;

  private readonly random: DeviceRandom;
  readonly state: Uint8Array;
  private readonly endKind: Uint8Array;
  private readonly refuel: Uint8Array;
  readonly fromNode: Int32Array;
  readonly toNode: Int32Array;
  private readonly nextNode: Int32Array; // -1 when toNode is the destination
  private readonly destNode: Int32Array;
  readonly segPos: Float64Array; // metres along from→to
  readonly segLen: Float64Array;
  readonly speed: Float64Array; // m/s
  private readonly cruise: Float32Array; // m/s for the current segment
  private readonly endSpeed: Float32Array; // m/s allowed at the end of the segment
  readonly course: Float32Array;
  private readonly until: Float64Array; // sim seconds when the light turns green / the park ends
  readonly ignitionOffAt: Float64Array; // sim seconds when a parked vehicle switches off
  readonly odometerM: Float64Array;
  readonly fuel: Float64Array; // litres
  private readonly tank: Float32Array; // litres
  private readonly consumption: Float32Array; // litres per km

  private time = 0; // seconds since the first tick

  /** `firstIndex`: the global index of device 0 here (its random stream is seeded by it, so a
   * slice of a fleet drives exactly as the same devices of the whole fleet). */
  constructor(n: number, private readonly seed: number, private readonly grid: StreetGrid, private readonly firstIndex = 0) {
    this.count = n;
    this.random = new DeviceRandom(n);
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

    for (let d = 0; d < n; d++) this.initDevice(d);
  }

  /** Simulated seconds since the first tick. */
  get simTime(): number {
    return this.time;
  }

  /** Advances every vehicle by one substep of `h` seconds. */
  advance(h: number): void {
    this.time += h;
    const n = this.count;
    for (let d = 0; d < n; d++) this.step(d, h);
  }

  private rand(d: number): number {
    return this.random.next(d);
  }

  private initDevice(d: number): void {
    this.random.seed(d, hash3(this.seed, d + this.firstIndex, 0x51ed));
    this.tank[d] = 45 + Math.floor(this.rand(d) * 8) * 5; // 45..80 L
    this.fuel[d] = this.tank[d] * (0.2 + 0.8 * this.rand(d));
    this.consumption[d] = 0.07 + 0.07 * this.rand(d);
    this.odometerM[d] = (5_000 + 195_000 * this.rand(d)) * 1000;

    const start = this.grid.randomNodeInDisc(this.random, d);
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

  /** Picks a new destination and starts the first segment. */
  private depart(d: number): void {
    const here = this.toNode[d];
    this.destNode[d] = this.grid.pickDestination(here, this.random, d);
    this.state[d] = DRIVING;
    this.refuel[d] = 0;
    this.speed[d] = 0;
    const first = this.grid.nextStep(here, this.destNode[d], -1, this.random, d);
    this.enterSegment(d, here, first);
  }

  /** Starts driving from `from` to `to` (which is not -1). */
  private enterSegment(d: number, from: number, to: number): void {
    const grid = this.grid;
    this.fromNode[d] = from;
    this.toNode[d] = to;
    this.segPos[d] = 0;
    const dx = grid.nodeX[to] - grid.nodeX[from];
    const dy = grid.nodeY[to] - grid.nodeY[from];
    this.segLen[d] = Math.sqrt(dx * dx + dy * dy);
    let c = (Math.atan2(dx, dy) * 180) / Math.PI;
    if (c < 0) c += 360;
    if (c >= 360) c -= 360;
    this.course[d] = c;

    const arterial = grid.isArterial(from, to);
    const outer = grid.isOuter(from, to);
    const r = this.rand(d);
    const kmh = arterial ? (outer ? 60 + 30 * r : 45 + 25 * r) : 22 + 28 * r;
    this.cruise[d] = kmh / 3.6;

    const next = grid.nextStep(to, this.destNode[d], from, this.random, d);
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
    const t = this.time;
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
}
