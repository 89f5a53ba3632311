import { VehicleBehaviour, type VehicleOutbox } from '../../actors/vehicle-actor.js';
import { newVehicleState, settingsOf, type VehicleProfile, type VehicleState } from '../../actors/vehicle-logic.js';
import { DEFAULT_SETTINGS, resolveSettings, type SettingsOverride } from '../../actors/domain/domain-settings.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import type { VehicleDelta } from '../../actors/domain/vehicle-state.js';

/**
 * Runs the real vehicle actor handler (VehicleBehaviour) without nact: each call is one
 * message, and everything the actor tells its shard is recorded.
 */
export class VehicleDriver {
  readonly stored: TelemetryPoint[] = [];
  readonly rejections: string[] = [];
  readonly events: VehicleEvent[] = [];
  readonly deltas: VehicleDelta[] = [];
  readonly segmentsById = new Map<string, TripSegment>();
  due: number | null = null;
  lastReceivedAt = 0;
  state: VehicleState;
  readonly behaviour: VehicleBehaviour;

  constructor(settings: SettingsOverride = {}, profile: Partial<VehicleProfile> = {}, readonly vehicleId = 'veh-1') {
    this.state = newVehicleState({ vehicleId, company: 'acme', ...profile, settings: resolveSettings(DEFAULT_SETTINGS, settings) }, 'dev-1', 0);
    const outbox: VehicleOutbox = {
      accepted: (_s, p) => { this.stored.push(p); },
      rejected: (reason) => { this.rejections.push(reason); },
      changed: (_s, delta) => { this.deltas.push({ ...delta }); },
      events: (events) => { this.events.push(...events); },
      segments: (segments) => { for (const s of segments) this.segmentsById.set(s.id, s); },
      watch: (_s, dueAt) => { this.due = dueAt; },
      crashed: async () => {},
    };
    this.behaviour = new VehicleBehaviour(outbox);
  }

  /** One message of points, received at `receivedAt` (default: the newest point's time). */
  send(points: readonly TelemetryPoint[], receivedAt = Math.max(...points.map((p) => p.ts))): this {
    this.lastReceivedAt = receivedAt;
    this.state = this.behaviour.handle(this.state, { kind: 'points', vehicleId: this.vehicleId, points, receivedAt, completion: { done() {} } }) as VehicleState;
    return this;
  }

  /** The shard's status timer at `now`. */
  tick(now: number): this {
    this.state = this.behaviour.handle(this.state, { kind: 'status', vehicleId: this.vehicleId, now, completion: { done() {} } }) as VehicleState;
    return this;
  }

  /** The status timer once the reorder window has passed since the last message: what it held goes out. */
  settle(): this {
    return this.tick(this.lastReceivedAt + settingsOf(this.state).reorderWindowS * 1000);
  }

  get types(): string[] {
    return this.events.map((e) => e.type);
  }

  get segments(): TripSegment[] {
    return [...this.segmentsById.values()].sort((a, b) => a.startTs - b.startTs);
  }

  trips(): TripSegment[] {
    return this.segments.filter((s) => s.kind === 'trip');
  }
}

export const T0 = Date.UTC(2026, 0, 12, 6, 0, 0);
const M_PER_DEG_LAT = 111_195;

/** A point `northM` metres north and `eastM` east of 52.5, 13.4 at T0 + `s` seconds. */
export function at(s: number, northM: number, eastM = 0, extra: Partial<TelemetryPoint> = {}): TelemetryPoint {
  const lat = 52.5 + northM / M_PER_DEG_LAT;
  const lon = 13.4 + eastM / (M_PER_DEG_LAT * Math.cos((52.5 * Math.PI) / 180));
  return { deviceId: 'dev-1', ts: T0 + s * 1000, lat, lon, ...extra };
}

/** Points of a drive north from `fromM` at `kmh`, one every `everyS` seconds, for `seconds`. */
export function drive(startS: number, fromM: number, kmh: number, seconds: number, everyS = 10, extra: Partial<TelemetryPoint> = {}): TelemetryPoint[] {
  const out: TelemetryPoint[] = [];
  for (let t = everyS; t <= seconds; t += everyS) out.push(at(startS + t, fromM + (kmh / 3.6) * t, 0, { speed: kmh, ...extra }));
  return out;
}

/** Points standing at `northM` (with jitter of up to `jitterM`, deterministic), one every `everyS` seconds. */
export function stand(startS: number, northM: number, seconds: number, everyS = 30, jitterM = 0, extra: Partial<TelemetryPoint> = {}): TelemetryPoint[] {
  const out: TelemetryPoint[] = [];
  for (let t = everyS, k = 1; t <= seconds; t += everyS, k++) {
    const j = jitterM * Math.sin(k * 12.9898);
    const e = jitterM * Math.cos(k * 78.233);
    out.push(at(startS + t, northM + j, e, { speed: 0, ...extra }));
  }
  return out;
}
