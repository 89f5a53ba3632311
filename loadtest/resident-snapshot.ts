import type { VehicleEvent } from '../actors/domain/vehicle-event.js';
import type { VehicleSnapshot } from '../actors/domain/vehicle-state.js';
import { unboundVehicleId } from '../actors/domain/reference-data.js';
import { applyPoint, newVehicleState, toSnapshot } from '../actors/vehicle-logic.js';

/**
 * The snapshot a vehicle actor writes after `window` points, made by the engine's own vehicle
 * logic (so it stays what the engine really writes): an unbound device `dev-<n>`, vehicleId
 * `~dev/<deviceId>`, on a deterministic drive around Berlin with real-looking float64 values.
 * Shared by `bench:infra` part 3 and `bench:restore`.
 */
export function residentSnapshot(n: number, partition: number, baseTs: number, window: number): VehicleSnapshot {
  const deviceId = `dev-${n}`;
  const state = newVehicleState({ vehicleId: unboundVehicleId(deviceId), company: null }, deviceId, partition);
  const events: VehicleEvent[] = [];
  let lat = 52.38 + ((n * 7919) % 28_000) / 100_000 + 0.0000013;
  let lon = 13.2 + ((n * 104_729) % 40_000) / 100_000 + 0.0000017;
  const odometer = 5_000 + (n % 195_000) + 0.123;
  for (let k = 0; k < window; k++) {
    lat = Math.round((lat + ((n + k) % 7 - 3) * 0.000113) * 1e6) / 1e6;
    lon = Math.round((lon + ((n * 3 + k) % 7 - 3) * 0.000171) * 1e6) / 1e6;
    applyPoint(state, {
      deviceId, ts: baseTs + k * 5000, lat, lon,
      speed: ((n + k * 13) % 900) / 10, course: ((n * 17 + k * 29) % 3600) / 10, ignition: true,
      fuel: Math.round((20 + (n % 50) - k * 0.02) * 10) / 10, odometer: Math.round((odometer + k * 0.061) * 1000) / 1000,
    }, events);
    events.length = 0;
  }
  const snap = toSnapshot(state);
  if (snap === null) throw new Error('no snapshot');
  return snap;
}
