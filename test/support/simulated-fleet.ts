import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { applyPoint, newVehicleState, type VehicleState } from '../../actors/vehicle-logic.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { adminHeaders, postJson, testDomainSettings } from './engine.js';

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

/** Each vehicle's view after one uninterrupted actor applied the accepted points (see expectedEvents). */
export function expectedViews(points: readonly TelemetryPoint[], vehicleOf: (deviceId: string) => { id: string; company: string; speedLimit: number }): Map<string, VehicleView> {
  return new Map([...replay(points, vehicleOf).states].flatMap(([id, s]) => (s.view ? [[id, s.view] as const] : [])));
}

/** Replays each vehicle's points in order through the vehicle logic, in a fresh state. */
function replay(points: readonly TelemetryPoint[], vehicleOf: (deviceId: string) => { id: string; company: string; speedLimit: number }): { states: Map<string, VehicleState>; events: VehicleEvent[] } {
  const states = new Map<string, VehicleState>();
  const events: VehicleEvent[] = [];
  for (const p of points) {
    const v = vehicleOf(p.deviceId);
    let state = states.get(v.id);
    if (state === undefined) states.set(v.id, (state = newVehicleState({ vehicleId: v.id, company: v.company, speedLimit: v.speedLimit, settings: testDomainSettings }, p.deviceId, 0)));
    applyPoint(state, p, events, p.ts);
  }
  return { states, events };
}

/**
 * The events one uninterrupted vehicle actor derives from the accepted points: each vehicle's
 * points replayed in order through the vehicle logic (actors/vehicle-logic.ts, whose rules have
 * their own table-driven tests), in a fresh state with the vehicle's reference data. A cluster
 * that moves, drains and loses nodes must store and deliver exactly these. `device_online` and
 * `device_offline` are left out: they are stamped with when points arrived, not with the points.
 */
export function expectedEvents(points: readonly TelemetryPoint[], vehicleOf: (deviceId: string) => { id: string; company: string; speedLimit: number }): VehicleEvent[] {
  return replay(points, vehicleOf).events.filter((e) => !ARRIVAL_STAMPED.has(e.type));
}

/** Event types stamped with the arrival time of points (not derivable from the points). */
export const ARRIVAL_STAMPED: ReadonlySet<string> = new Set(['device_online', 'device_offline']);
