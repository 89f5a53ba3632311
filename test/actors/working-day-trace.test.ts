import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { at, T0, VehicleDriver } from '../support/vehicle-driver.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { DEFAULT_SETTINGS, type SettingsOverride } from '../../actors/domain/domain-settings.js';
import type { LonLat } from '../../actors/domain/geofence.js';

/**
 * A working day of one truck (speed limit 80 km/h), as a device reports it: parked at the
 * depot, idling, a drive north with an overspeed stretch, roadworks (a geofence with its own
 * limit of 50 km/h, 14.9 to 16.9 km north of the depot) driven through at 60 km/h both ways, a
 * refuel stop, a drive back whose points arrive as a reordered burst, parking overnight without
 * data, the next morning. Messages are what the actor receives at once, with when they were received.
 */
interface Message { readonly points: TelemetryPoint[]; readonly receivedAt: number }

const H = 3600;
function buildDay(): { messages: Message[]; routeKm: number } {
  const messages: Message[] = [];
  const one = (p: TelemetryPoint) => messages.push({ points: [p], receivedAt: p.ts });
  let s = 0;
  // 06:00-06:10 parked at the depot, ignition off, fuel 40.
  for (; s <= 600; s += 60) one(at(s, 0, 0, { speed: 0, ignition: false, fuel: 40 }));
  // 06:10-06:15 ignition on, idling.
  for (s = 630; s <= 900; s += 30) one(at(s, 0, 0, { speed: 0, ignition: true, fuel: 40 }));
  // 06:15-06:35 north: 60 km/h, 100 km/h from 06:24 to 06:26, 60 again; 20.4 km in all.
  let north = 0;
  for (s = 910; s <= 2100; s += 10) {
    const kmh = s > 1440 && s <= 1560 ? 100 : 60;
    north += (kmh / 3.6) * 10;
    one(at(s, north, 0, { speed: kmh, ignition: true, fuel: 40 }));
  }
  const away = north;
  // 06:35-06:50 the fuel station: ignition off, refuelled to 90 at 06:40.
  for (s = 2130; s <= 3000; s += 30) one(at(s, away, 0, { speed: 0, ignition: s < 2160 || s > 2880, fuel: s < 2400 ? 40 : 90 }));
  // 06:50-07:10 back south (about 63 km/h); the device sends 07:00-07:02 as one reordered burst.
  const back: TelemetryPoint[] = [];
  const backKmh = Math.round((away / 1200) * 3.6 * 10) / 10;
  for (s = 3010; s <= 4200; s += 10) {
    north = away * (1 - (s - 3000) / 1200);
    back.push(at(s, north, 0, { speed: s === 4200 ? 0 : backKmh, ignition: true, fuel: 89 }));
  }
  for (const p of back) {
    const t = (p.ts - T0) / 1000;
    if (t >= 3600 && t < 3720) continue;
    if (t === 3720) {
      const burst = back.filter((q) => q.ts >= T0 + 3600_000 && q.ts <= p.ts);
      messages.push({ points: [...burst].reverse().sort((a, b) => ((a.ts / 1000) % 7) - ((b.ts / 1000) % 7)), receivedAt: p.ts });
      continue;
    }
    one(p);
  }
  // 07:10-07:20 parked at the depot, ignition off; then nothing until 06:00 the next day.
  for (s = 4230; s <= 4800; s += 30) one(at(s, 0, 0, { speed: 0, ignition: false, fuel: 89 }));
  one(at(24 * H, 0, 0, { speed: 0, ignition: false, fuel: 89 }));
  return { messages, routeKm: 2 * away / 1000 };
}

const M_PER_DEG_LAT = 111_195;
/** The roadworks: a rectangle 200 m wide across the road, from 14.9 to 16.9 km north of the depot. */
function roadworks(): FleetDirectory {
  const lat = (m: number) => 52.5 + m / M_PER_DEG_LAT;
  const lon = (m: number) => 13.4 + m / (M_PER_DEG_LAT * Math.cos((52.5 * Math.PI) / 180));
  const ring: LonLat[] = [[lon(-100), lat(14_900)], [lon(100), lat(14_900)], [lon(100), lat(16_900)], [lon(-100), lat(16_900)]];
  return new FleetDirectory({
    companies: [{ id: 'acme', name: 'Acme', active: true }],
    vehicles: [{ id: 'veh-1', companyId: 'acme', speedLimit: 80 }],
    devices: [{ deviceId: 'dev-1', vehicleId: 'veh-1' }],
    geofences: [{ id: 'roadworks', companyId: 'acme', name: 'Roadworks', shape: { type: 'polygon', coordinates: [ring] }, speedLimit: 50 }],
  }, { accept: false, limit: 0 }, DEFAULT_SETTINGS);
}

function run(messages: readonly Message[], ticks: readonly number[] = [T0 + 5400_000], settings: SettingsOverride = {}): VehicleDriver {
  const v = new VehicleDriver(settings, { speedLimit: 80, geofences: roadworks().geofences });
  let tick = 0;
  for (const m of messages) {
    while (tick < ticks.length && ticks[tick] <= m.receivedAt) v.tick(ticks[tick++]);
    v.send(m.points, m.receivedAt);
  }
  return v;
}

describe('#10 a working day, as the device reports it', () => {
  const { messages, routeKm } = buildDay();

  it('#10 yields exactly the expected trips, stops, events and odometer (within 0.5 %)', () => {
    const v = run(messages);
    assert.deepEqual(v.rejections, []);
    const timeline = v.events.map((e) => `${(e.ts - T0) / 1000} ${e.type}`);
    assert.deepEqual(timeline, [
      '0 device_online',
      '630 ignition_on',
      '630 idle_start',
      '900 idle_end',
      '900 stop_end',
      '900 trip_start',
      '1450 overspeed_start',
      '1570 overspeed_end',
      // The roadworks at 60 km/h: inside from 1720 s (enter fires after the 10 s dwell), overspeed under
      // its own limit of 50 stamped when it began; out from 1840 s, back under the truck's own 80.
      '1730 geofence_enter',
      '1720 overspeed_start',
      '1850 geofence_exit',
      '1840 overspeed_end',
      // A trip ends once the truck stood still for 180 s, stamped when it arrived: after the ignition went off.
      '2160 ignition_off',
      '2100 trip_end',
      '2100 stop_start',
      '2490 fuel_refuel',
      '2910 ignition_on',
      '3000 stop_end',
      '3000 trip_start',
      '3260 geofence_enter',
      '3250 overspeed_start',
      '3380 geofence_exit',
      '3370 overspeed_end',
      '4230 ignition_off',
      '4200 trip_end',
      '4200 stop_start',
      '5400 device_offline',
      `${24 * H} device_online`,
    ]);
    const overspeed = v.events.filter((e) => e.type.startsWith('overspeed_')).map((e) => e.data?.limit);
    // Starts carry the limit broken (the roadworks' own inside them); ends the limit in force when it ended.
    assert.deepEqual(overspeed, [80, 80, 50, 80, 50, 80]);
    const fences = v.events.filter((e) => e.type.startsWith('geofence_')).map((e) => [e.data?.geofenceId, (Number(e.data?.since) - T0) / 1000]);
    assert.deepEqual(fences, [['roadworks', 1720], ['roadworks', 1840], ['roadworks', 3250], ['roadworks', 3370]]);
    const segments = v.segments.map((s) => [s.kind, (s.startTs - T0) / 1000, (s.endTs - T0) / 1000, s.closed]);
    assert.deepEqual(segments, [
      ['stop', 0, 900, true],
      ['trip', 900, 2100, true],
      ['stop', 2100, 3000, true],
      ['trip', 3000, 4200, true],
      ['stop', 4200, 24 * H, false],
    ]);
    const [out, back] = v.trips();
    assert.ok(Math.abs(out.distanceKm - routeKm / 2) / (routeKm / 2) < 0.005, `out ${out.distanceKm} km`);
    assert.ok(Math.abs(back.distanceKm - routeKm / 2) / (routeKm / 2) < 0.005, `back ${back.distanceKm} km`);
    assert.equal(out.maxSpeed, 100);
    assert.equal(v.segments[0].idleMs, 270_000, 'idle at the depot: 06:10:30 to 06:15');
    const odometer = v.state.view?.odometer as number;
    assert.ok(Math.abs(odometer - routeKm) / routeKm < 0.005, `odometer ${odometer} km, route ${routeKm} km`);
    assert.equal(v.state.view?.moving, false);
  });

  it('#10 the same result when the day is replayed twice', () => {
    const once = run(messages);
    const twice = run([...messages, ...messages]);
    assert.deepEqual(twice.events.map((e) => e.id), once.events.map((e) => e.id));
    assert.deepEqual(twice.segments, once.segments);
    assert.equal(twice.state.view?.odometer, once.state.view?.odometer);
  });

  it('#10 the same result when fed in shuffled batches', () => {
    const once = run(messages);
    const points = messages.flatMap((m) => m.points).sort((a, b) => a.ts - b.ts);
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const batches: Message[] = [];
    for (let i = 0; i < points.length;) {
      const n = 1 + Math.floor(random() * 12);
      const batch = points.slice(i, i + n);
      i += n;
      for (let k = batch.length - 1; k > 0; k--) {
        const j = Math.floor(random() * (k + 1));
        [batch[k], batch[j]] = [batch[j], batch[k]];
      }
      batches.push({ points: batch, receivedAt: Math.max(...batch.map((p) => p.ts)) });
    }
    const shuffled = run(batches);
    const ofTrace = (v: VehicleDriver) => v.events.filter((e) => !e.type.startsWith('device_')).map((e) => e.id);
    assert.deepEqual(ofTrace(shuffled), ofTrace(once));
    assert.deepEqual(shuffled.segments, once.segments);
    assert.equal(shuffled.state.view?.odometer, once.state.view?.odometer);
  });

  it('#10 the same result when the reordered burst arrives one point at a time, within the reorder window', () => {
    const once = run(messages);
    // Every point of 07:00-07:02 its own message, each up to 40 s after a newer one (window 60 s).
    const burst = messages.find((m) => m.points.length > 1) as Message;
    const sorted = [...burst.points].sort((a, b) => a.ts - b.ts);
    const order = [2, 0, 1, 5, 4, 3, 8, 6, 7, 11, 10, 9, 12].filter((i) => i < sorted.length);
    assert.equal(order.length, sorted.length);
    const late = order.map((i, k) => ({ points: [sorted[i]], receivedAt: burst.receivedAt + k * 1000 }));
    const reordered = messages.flatMap((m) => (m === burst ? late : [m]));
    const v = run(reordered, [T0 + 5400_000], { reorderWindowS: 60 });
    assert.deepEqual(v.rejections, []);
    const ofTrace = (d: VehicleDriver) => d.events.filter((e) => !e.type.startsWith('device_')).map((e) => e.id);
    assert.deepEqual(ofTrace(v), ofTrace(once));
    assert.deepEqual(v.segments, once.segments);
    assert.equal(v.state.view?.odometer, once.state.view?.odometer);
  });
});
