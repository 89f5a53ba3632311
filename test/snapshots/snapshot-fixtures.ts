import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

/** A realistic snapshot: full view, a 16-point window, optional fields both set and unset; `tag` becomes the view's name. */
export function makeSnapshot(i: number, partition: number, opts: { ts?: number; accepted?: number; tag?: string } = {}): VehicleSnapshot {
  const ts = opts.ts ?? 1_700_000_000_000 + i * 1000;
  const deviceId = `dev-${i}`;
  const recent: (number | null)[] = [];
  let lat = 0;
  let lon = 0;
  let speed = 0;
  for (let k = 15; k >= 0; k--) {
    lat = 55.75 + (i % 1000) * 0.001 - k * 0.0001;
    lon = 37.61 + Math.floor(i / 1000) * 0.001 + k * 0.0001;
    speed = (i + k) % 90;
    // Some points without a speed (the device sent none): null in the window.
    recent.push(ts - k * 5000, lat, lon, k % 5 === 3 ? null : speed);
  }
  return {
    vehicleId: `veh-${i}`,
    deviceId,
    partition,
    view: {
      id: `veh-${i}`,
      company: i % 10 === 0 ? null : `co-${i % 7}`,
      ...(i % 3 === 0 && opts.tag === undefined ? {} : { name: opts.tag ?? `Truck ${i}`, plate: `A${i}BC` }),
      lat,
      lon,
      ts,
      speed,
      course: (i * 7) % 360,
      ignition: true,
      odometer: 1234.5 + i,
      moving: speed > 3,
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
