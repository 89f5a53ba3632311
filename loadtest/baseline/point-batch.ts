import type { Redis } from 'ioredis';
import { decodeRecordValue } from '../../adapters/codec/msgpack-codec.js';
import { execChecked } from '../../adapters/redis/redis-connection.js';
import { validatePoint, type TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { HotStateKeys, packValue, readStates, unpackValue } from './hot-state.js';
import { derive, type DerivationSettings, type StoredState, type VehicleRef } from './vehicle-derivation.js';

/** One message of vehicle.updates: the full view, the fields changed since `p`, and events. */
export interface UpdateMessage {
  readonly v: StoredState['view'];
  readonly d: Record<string, unknown>;
  /** ts of the view the delta applies to (0: first point). */
  readonly p: number;
  readonly e?: readonly unknown[];
}

export interface BatchOutcome {
  /** Keyed by vehicle id, in the order the points were applied. */
  readonly updates: { readonly key: string; readonly value: Buffer }[];
  readonly rejected: Map<string, number>;
  readonly points: number;
  /** The new states and GEO index written back; runs beside the publish of `updates`. */
  readonly stateWrite: Promise<void>;
}

function count(m: Map<string, number>, reason: string, n = 1): void {
  m.set(reason, (m.get(reason) ?? 0) + n);
}

function decode(values: readonly (Buffer | null)[], now: number, rejected: Map<string, number>): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (const value of values) {
    if (value === null) continue;
    let raw: unknown;
    try {
      raw = decodeRecordValue(value);
    } catch {
      count(rejected, 'UNDECODABLE');
      continue;
    }
    for (const item of Array.isArray(raw) ? raw : [raw]) {
      const v = validatePoint(item, now);
      if (v.ok) points.push(v.point);
      else count(rejected, v.reason);
    }
  }
  return points;
}

/**
 * The classic stateless step, for one batch of telemetry.raw: reference data of every device
 * (one MGET), previous states of their vehicles (one MGET), the derivation point by point, new
 * states and the GEO index written back (one pipeline), and one update per point.
 */
export async function processPointBatch(redis: Redis, keys: HotStateKeys, settings: DerivationSettings, values: readonly (Buffer | null)[]): Promise<BatchOutcome> {
  const rejected = new Map<string, number>();
  const points = decode(values, Date.now(), rejected);
  const updates: { key: string; value: Buffer }[] = [];
  if (points.length === 0) return { updates, rejected, points: 0, stateWrite: Promise.resolve() };

  const devices = [...new Set(points.map((p) => p.deviceId))];
  const rawRefs = await redis.mgetBuffer(...devices.map((d) => keys.ref(d)));
  const refs = new Map<string, VehicleRef>();
  devices.forEach((d, i) => {
    const b = rawRefs[i];
    if (b !== null) refs.set(d, unpackValue<VehicleRef>(b));
  });

  const vehicleIds = [...new Set([...refs.values()].filter((r) => r.active).map((r) => r.vehicleId))];
  const prevStates = await readStates(redis, keys, vehicleIds);
  const states = new Map<string, StoredState | null>(vehicleIds.map((id, i) => [id, prevStates[i]]));
  const changed = new Set<string>();

  for (const p of points) {
    const ref = refs.get(p.deviceId);
    if (ref === undefined) { count(rejected, 'UNKNOWN_DEVICE'); continue; }
    if (!ref.active) { count(rejected, 'INACTIVE_COMPANY'); continue; }
    const out = derive(ref, states.get(ref.vehicleId) ?? null, p, settings);
    if (!out.ok) { count(rejected, out.reason); continue; }
    const { state, delta, prevTs, events } = out.derived;
    states.set(ref.vehicleId, state);
    changed.add(ref.vehicleId);
    const msg: UpdateMessage = { v: state.view, d: delta, p: prevTs, ...(events.length > 0 && { e: events }) };
    updates.push({ key: ref.vehicleId, value: packValue(msg) });
  }

  let stateWrite = Promise.resolve();
  if (changed.size > 0) {
    const pipe = redis.pipeline();
    const geo: (string | number)[] = [];
    for (const id of changed) {
      const s = states.get(id);
      if (!s) continue;
      pipe.set(keys.state(id), packValue(s));
      geo.push(s.view.lon, s.view.lat, id);
    }
    pipe.geoadd(keys.geo, ...geo);
    stateWrite = execChecked(pipe, 'state write').then(() => undefined);
  }
  return { updates, rejected, points: points.length, stateWrite };
}
