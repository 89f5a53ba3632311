import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { adminHeaders, postJson } from './engine.js';

/** One cycle of speeds (km/h) every device drives through, shifted by its index: it crosses 60 twice. */
const SPEEDS = [0, 0, 25, 45, 70, 85, 65, 50, 75, 40, 10, 0];

/**
 * A small fleet of simulated devices posting to the HTTP intake of whichever nodes the test
 * allows, every `intervalMs`, one point per device per tick, with strictly increasing timestamps
 * and positions, speeds and ignition known in advance. It records every point an intake
 * accepted (202, every record accepted), so a test can compare the engine with the points.
 */
export class SimulatedFleet {
  readonly accepted: TelemetryPoint[] = [];
  /** The last accepted point of each device. */
  readonly last = new Map<string, TelemetryPoint>();
  private tick = 0;
  private running: Promise<void> | null = null;
  private stopRequested = false;
  private failure: Error | null = null;
  private next = 0;

  constructor(
    readonly devices: readonly string[],
    /** Base URLs the load may post to now (the test narrows it before a node leaves). */
    public targets: () => string[],
    private readonly base: number,
    private readonly intervalMs = 700,
  ) {}

  /** The point device `i` sends at tick `k`: a pure function of (i, k). */
  point(i: number, k: number): TelemetryPoint {
    const speed = SPEEDS[(k + i) % SPEEDS.length];
    const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
    return {
      deviceId: this.devices[i], ts: this.base + k * 1000 + i * 10,
      lat: r6(52.4 + i * 0.002 + k * 0.00005), lon: r6(13.3 + i * 0.001 + k * 0.00007),
      speed, course: (k * 7 + i) % 360, ignition: (k + i) % SPEEDS.length !== 0, fuel: 40 + (i % 5),
    };
  }

  /** The tick a point of this fleet was sent at. */
  tickOf(ts: number): number {
    return Math.floor((ts - this.base) / 1000);
  }

  /** Starts (or resumes) posting a tick every `intervalMs`. */
  resume(): void {
    if (this.running) return;
    this.stopRequested = false;
    this.running = (async () => {
      while (!this.stopRequested && this.failure === null) {
        const started = Date.now();
        await this.postTick().catch((e: Error) => { this.failure = e; });
        await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - started))));
      }
    })();
  }

  /** Stops after the tick in flight; resolves once nothing is in flight. Throws if an intake refused a tick. */
  async pause(): Promise<void> {
    this.stopRequested = true;
    await this.running;
    this.running = null;
    this.assertHealthy();
  }

  assertHealthy(): void {
    if (this.failure) throw this.failure;
  }

  get ticks(): number {
    return this.tick;
  }

  private async postTick(): Promise<void> {
    const targets = this.targets();
    if (targets.length === 0) throw new Error('no intake to post to');
    const url = targets[this.next++ % targets.length];
    const k = this.tick;
    const points = this.devices.map((_, i) => this.point(i, k));
    const res = await postJson(`${url}/v1/telemetry`, points, await adminHeaders());
    if (res.status !== 202 || res.body.accepted !== points.length) {
      throw new Error(`intake ${url} answered ${res.status} ${JSON.stringify(res.body)} for tick ${k}`);
    }
    this.tick++;
    for (const p of points) {
      this.accepted.push(p);
      this.last.set(p.deviceId, p);
    }
  }
}

/**
 * The events the engine must derive from accepted points, computed here from the documented
 * rules (docs/protocol.md, docs/architecture.md) rather than with the engine's own code: an
 * `overspeed` when the speed goes above the vehicle's limit (also on its first point), a
 * `trip_start` / `trip_end` when moving (speed ≥ 3 km/h) changes, an `ignition_on` /
 * `ignition_off` when ignition changes; ids `vehicleId:type:ts`. Points of a vehicle must come in
 * increasing `ts` order, each with speed and ignition.
 */
export function expectedEvents(points: readonly TelemetryPoint[], vehicleOf: (deviceId: string) => { id: string; company: string; speedLimit: number }): VehicleEvent[] {
  const state = new Map<string, { prev: TelemetryPoint | null; over: boolean }>();
  const events: VehicleEvent[] = [];
  for (const p of points) {
    const v = vehicleOf(p.deviceId);
    const s = state.get(v.id) ?? { prev: null, over: false };
    state.set(v.id, s);
    const speed = p.speed as number;
    const emit = (type: VehicleEvent['type'], data?: Record<string, number>) => {
      events.push({ id: `${v.id}:${type}:${p.ts}`, vehicleId: v.id, company: v.company, type, ts: p.ts, lat: p.lat, lon: p.lon, ...(data ? { data } : {}) });
    };
    const over = speed > v.speedLimit;
    if (over && !s.over) emit('overspeed', { speed, limit: v.speedLimit });
    s.over = over;
    const prev = s.prev;
    if (prev !== null) {
      const moving = speed >= 3;
      const wasMoving = (prev.speed as number) >= 3;
      if (moving && !wasMoving) emit('trip_start');
      if (!moving && wasMoving) emit('trip_end');
      if (p.ignition === true && prev.ignition === false) emit('ignition_on');
      if (p.ignition === false && prev.ignition === true) emit('ignition_off');
    }
    s.prev = p;
  }
  return events;
}
