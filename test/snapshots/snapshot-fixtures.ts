import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';

/** A realistic snapshot: full view, a 16-point window, optional fields both set and unset. */
export function makeSnapshot(i: number, partition: number, opts: { ts?: number; accepted?: number; tag?: string } = {}): VehicleSnapshot {
  const ts = opts.ts ?? 1_700_000_000_000 + i * 1000;
  const deviceId = `dev-${i}`;
  const recent: TelemetryPoint[] = [];
  for (let k = 15; k >= 0; k--) {
    const p: { deviceId: string; ts: number; lat: number; lon: number; speed?: number; course?: number; ignition?: boolean; attrs?: Record<string, string | number | boolean> } = {
      deviceId,
      ts: ts - k * 5000,
      lat: 55.75 + (i % 1000) * 0.001 - k * 0.0001,
      lon: 37.61 + Math.floor(i / 1000) * 0.001 + k * 0.0001,
      speed: (i + k) % 90,
      course: (i * 7 + k) % 360,
    };
    if (k % 4 === 0) p.ignition = true;
    if (k === 0) p.attrs = { sat: 9, hdop: 0.8, note: opts.tag ?? 'ok' };
    recent.push(p);
  }
  const last = recent[recent.length - 1];
  return {
    vehicleId: `veh-${i}`,
    deviceId,
    partition,
    view: {
      id: `veh-${i}`,
      company: i % 10 === 0 ? null : `co-${i % 7}`,
      ...(i % 3 === 0 ? {} : { name: `Truck ${i}`, plate: `A${i}BC` }),
      lat: last.lat,
      lon: last.lon,
      ts,
      speed: last.speed ?? 0,
      course: last.course,
      ignition: true,
      odometer: 1234.5 + i,
      moving: (last.speed ?? 0) > 3,
    },
    recent,
    accepted: opts.accepted ?? 100 + i,
    ...(i % 2 === 0 ? { overspeeding: false } : {}),
  };
}

export function makeSnapshots(n: number, partition: number, opts: { ts?: number; accepted?: number; tag?: string } = {}): VehicleSnapshot[] {
  const out: VehicleSnapshot[] = [];
  for (let i = 0; i < n; i++) out.push(makeSnapshot(i, partition, opts));
  return out;
}

export function byVehicle(list: readonly VehicleSnapshot[]): Map<string, VehicleSnapshot> {
  return new Map(list.map((s) => [s.vehicleId, s]));
}
