import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RouteSimulator, type RawPoint } from '../../engine/simulator/route-simulator.js';
import { demoFleet, unboundCount } from '../../engine/simulator/demo-fleet.js';
import { validatePoint } from '../../actors/domain/telemetry-point.js';

const T0 = Date.UTC(2025, 0, 15, 8, 0, 0);
const CENTER: [number, number] = [52.52, 13.405];

function run(sim: RouteSimulator, ticks: number, stepMs = 1000): RawPoint[][] {
  const out: RawPoint[][] = [];
  for (let i = 0; i < ticks; i++) out.push(sim.tick(T0 + i * stepMs));
  return out;
}

/** Distance in km from the centre (equirectangular, plenty at city scale). */
function kmFromCenter(p: RawPoint): number {
  const dy = (p.lat - CENTER[0]) * 111.32;
  const dx = (p.lon - CENTER[1]) * 111.32 * Math.cos((CENTER[0] * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

describe('RouteSimulator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = run(new RouteSimulator({ devices: 50, seed: 7 }), 120);
    const b = run(new RouteSimulator({ devices: 50, seed: 7 }), 120);
    const c = run(new RouteSimulator({ devices: 50, seed: 8 }), 120);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a[119], c[119]);
  });

  it("a device's trajectory does not depend on how many devices are simulated", () => {
    const small = run(new RouteSimulator({ devices: 5, seed: 3 }), 60);
    const big = run(new RouteSimulator({ devices: 40, seed: 3 }), 60);
    for (let t = 0; t < 60; t++) assert.deepEqual(big[t].slice(0, 5), small[t]);
  });

  it('names devices with the prefix, in order, one point per device per tick', () => {
    const sim = new RouteSimulator({ devices: 3, devicePrefix: 'trk-' });
    assert.deepEqual(sim.deviceIds, ['trk-1', 'trk-2', 'trk-3']);
    const pts = sim.tick(T0);
    assert.deepEqual(pts.map((p) => p.deviceId), ['trk-1', 'trk-2', 'trk-3']);
    assert.deepEqual(new RouteSimulator({ devices: 2 }).deviceIds, ['dev-1', 'dev-2']);
    assert.deepEqual(new RouteSimulator({ devices: 0 }).tick(T0), []);
  });

  it('keeps every point in bounds over 600 ticks of 200 devices, and the engine accepts them', () => {
    const sim = new RouteSimulator({ devices: 200, seed: 11 });
    const ticks = run(sim, 600);
    const lastTs = new Map<string, number>();
    let maxKm = 0;
    for (const pts of ticks) {
      assert.equal(pts.length, 200);
      for (const p of pts) {
        assert.ok(Number.isFinite(p.lat) && p.lat >= -90 && p.lat <= 90, `lat ${p.lat}`);
        assert.ok(Number.isFinite(p.lon) && p.lon >= -180 && p.lon <= 180, `lon ${p.lon}`);
        assert.ok(Number.isFinite(p.course) && p.course >= 0 && p.course < 360, `course ${p.course}`);
        assert.ok(Number.isFinite(p.speed) && p.speed >= 0 && p.speed <= 95, `speed ${p.speed}`);
        assert.ok(Number.isFinite(p.fuel) && p.fuel >= 0 && p.fuel <= 80, `fuel ${p.fuel}`);
        assert.ok(Number.isFinite(p.odometer) && p.odometer >= 0, `odometer ${p.odometer}`);
        assert.equal(typeof p.ignition, 'boolean');
        if (!p.ignition) assert.equal(p.speed, 0, 'a vehicle with the ignition off does not move');
        maxKm = Math.max(maxKm, kmFromCenter(p));
        const prev = lastTs.get(p.deviceId);
        if (prev !== undefined) assert.ok(p.ts > prev, `ts of ${p.deviceId} not increasing: ${prev} -> ${p.ts}`);
        lastTs.set(p.deviceId, p.ts);
        const v = validatePoint(p, T0 + 600_000);
        assert.ok(v.ok, `engine rejects ${JSON.stringify(p)}: ${v.ok ? '' : v.reason}`);
      }
    }
    // Around the centre: inside the radius, plus at most a block or two of street grid.
    assert.ok(maxKm < 15 + 1.5, `vehicle ${maxKm.toFixed(2)} km from the centre`);
    assert.ok(maxKm > 8, 'vehicles spread over the city');
  });

  it('keeps ts strictly increasing per device even when the clock stalls or goes back', () => {
    const sim = new RouteSimulator({ devices: 10, seed: 5 });
    const nows = [T0, T0 + 1000, T0 + 1000, T0 + 500, T0 + 2000, T0 + 2000.4, T0 + 2001];
    const last = new Array<number>(10).fill(-Infinity);
    for (const now of nows) {
      for (const [i, p] of sim.tick(now).entries()) {
        assert.ok(p.ts > last[i], `${p.ts} after ${last[i]}`);
        assert.ok(Number.isInteger(p.ts));
        last[i] = p.ts;
      }
    }
  });

  it('moves vehicles: odometers grow, positions change, speeds are realistic, courses follow movement', () => {
    const sim = new RouteSimulator({ devices: 200, seed: 21 });
    const ticks = run(sim, 600);
    const first = ticks[0];
    const last = ticks[599];
    let grew = 0;
    let moved = 0;
    for (let i = 0; i < 200; i++) {
      assert.ok(last[i].odometer >= first[i].odometer, 'odometer never decreases');
      if (last[i].odometer > first[i].odometer + 0.5) grew++;
      if (Math.abs(last[i].lat - first[i].lat) + Math.abs(last[i].lon - first[i].lon) > 0.001) moved++;
    }
    assert.ok(grew > 150, `${grew} of 200 odometers grew by more than 500 m in 10 minutes`);
    assert.ok(moved > 150, `${moved} of 200 vehicles moved`);

    // Odometer grows with the distance actually covered; course points where the vehicle goes.
    let checked = 0;
    let speeds = 0;
    let fast = 0;
    for (let t = 1; t < 600; t++) {
      for (let i = 0; i < 200; i++) {
        const a = ticks[t - 1][i];
        const b = ticks[t][i];
        const dy = (b.lat - a.lat) * 111_320;
        const dx = (b.lon - a.lon) * 111_320 * Math.cos((b.lat * Math.PI) / 180);
        const dist = Math.hypot(dx, dy);
        const odo = (b.odometer - a.odometer) * 1000;
        assert.ok(odo >= dist - 2, `odometer grew ${odo} m but the vehicle moved ${dist} m`);
        assert.ok(dist <= 30, `a vehicle jumped ${dist} m in one second`);
        if (b.speed > 0) {
          speeds++;
          if (b.speed >= 20) fast++;
        }
        // Mid-segment (not turning): course matches the bearing of the movement.
        if (dist > 8 && a.course === b.course) {
          let bearing = (Math.atan2(dx, dy) * 180) / Math.PI;
          if (bearing < 0) bearing += 360;
          const diff = Math.abs(((bearing - b.course + 540) % 360) - 180);
          assert.ok(diff < 5, `course ${b.course} but moving towards ${bearing.toFixed(1)}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 10_000, `${checked} course checks`);
    assert.ok(fast / speeds > 0.6, 'most moving time is spent at 20 km/h or more');
  });

  it('has vehicles stopped at times: at lights (ignition on) and parked (ignition off)', () => {
    const sim = new RouteSimulator({ devices: 200, seed: 4 });
    const ticks = run(sim, 600);
    const stoppedOn = new Set<string>();
    const parkedOff = new Set<string>();
    const startedAgain = new Set<string>();
    const wasStopped = new Set<string>();
    for (const pts of ticks) {
      for (const p of pts) {
        if (p.speed === 0 && p.ignition) stoppedOn.add(p.deviceId);
        if (!p.ignition) parkedOff.add(p.deviceId);
        if (p.speed === 0) wasStopped.add(p.deviceId);
        else if (wasStopped.has(p.deviceId)) startedAgain.add(p.deviceId);
      }
    }
    assert.ok(stoppedOn.size > 50, `${stoppedOn.size} vehicles stopped with the ignition on`);
    assert.ok(parkedOff.size > 20, `${parkedOff.size} vehicles parked with the ignition off`);
    assert.ok(startedAgain.size > 50, `${startedAgain.size} vehicles set off again after a stop`);
    const mid = ticks[300];
    const moving = mid.filter((p) => p.speed > 0).length;
    assert.ok(moving > 60 && moving < 195, `${moving} of 200 moving at one instant`);
  });

  it('drains fuel while driving and refuels sometimes', () => {
    const sim = new RouteSimulator({ devices: 300, seed: 9 });
    let drained = 0;
    let refuels = 0;
    let prev = sim.tick(T0);
    const start = prev;
    for (let i = 1; i <= 3600; i++) {
      const pts = sim.tick(T0 + i * 1000);
      for (let d = 0; d < pts.length; d++) if (pts[d].fuel > prev[d].fuel + 0.3 && !pts[d].ignition) refuels++;
      prev = pts;
    }
    for (let d = 0; d < prev.length; d++) if (prev[d].fuel < start[d].fuel) drained++;
    assert.ok(drained > 200, `${drained} of 300 tanks drained over an hour`);
    assert.ok(refuels > 0, 'someone refuelled within an hour');
  });

  it('simulates a long gap between ticks in bounded time', () => {
    const sim = new RouteSimulator({ devices: 100, seed: 2 });
    sim.tick(T0);
    const a = sim.tick(T0 + 1000);
    const b = sim.tick(T0 + 6 * 3600_000);
    assert.equal(b.length, 100);
    for (let i = 0; i < 100; i++) {
      assert.ok(b[i].ts > a[i].ts);
      assert.ok(b[i].odometer >= a[i].odometer);
      assert.ok(b[i].course >= 0 && b[i].course < 360);
    }
  });

  it('rejects bad options', () => {
    assert.throws(() => new RouteSimulator({ devices: -1 }), RangeError);
    assert.throws(() => new RouteSimulator({ devices: 1.5 }), RangeError);
    assert.throws(() => new RouteSimulator({ devices: 1, center: [95, 0] }), RangeError);
    assert.throws(() => new RouteSimulator({ devices: 1, radiusKm: 0 }), RangeError);
  });

  it('honours center and radius', () => {
    const sim = new RouteSimulator({ devices: 100, seed: 1, center: [-33.87, 151.21], radiusKm: 3 });
    for (const pts of run(sim, 120)) {
      for (const p of pts) {
        const dy = (p.lat + 33.87) * 111.32;
        const dx = (p.lon - 151.21) * 111.32 * Math.cos((33.87 * Math.PI) / 180);
        assert.ok(Math.hypot(dx, dy) < 3 + 1.2);
      }
    }
  });
});

describe('demoFleet', () => {
  it('has three active companies and vehicles round-robin across them', () => {
    const f = demoFleet(300);
    assert.deepEqual(
      f.companies.map((c) => [c.id, c.name, c.active]),
      [
        ['acme', 'Acme Logistics', true],
        ['bolt', 'Bolt Couriers', true],
        ['city', 'City Transit', true],
      ],
    );
    assert.deepEqual(f.vehicles.slice(0, 4).map((v) => v.companyId), ['acme', 'bolt', 'city', 'acme']);
    const perCompany = new Map<string, number>();
    for (const v of f.vehicles) perCompany.set(v.companyId, (perCompany.get(v.companyId) ?? 0) + 1);
    assert.deepEqual([...perCompany.values()], [99, 99, 99]);
    for (const v of f.vehicles) {
      assert.match(v.id, /^veh-\d+$/);
      assert.ok(v.name && v.plate && (v.speedLimit === 50 || v.speedLimit === 80));
    }
    assert.equal(new Set(f.vehicles.map((v) => v.plate)).size, f.vehicles.length, 'plates are unique');
  });

  it('binds dev-<n> to veh-<n> for all but the last 1%, which stay unbound', () => {
    const f = demoFleet(3000);
    assert.equal(unboundCount(3000), 30);
    assert.equal(f.devices.length, 2970);
    assert.equal(f.vehicles.length, 2970);
    for (const [i, b] of f.devices.entries()) {
      assert.equal(b.deviceId, `dev-${i + 1}`);
      assert.equal(b.vehicleId, `veh-${i + 1}`);
    }
    const bound = new Set(f.devices.map((b) => b.deviceId));
    const sim = new RouteSimulator({ devices: 3000 });
    const unbound = sim.deviceIds.filter((id) => !bound.has(id));
    assert.deepEqual(unbound, Array.from({ length: 30 }, (_, i) => `dev-${2971 + i}`));
    const vehicleIds = new Set(f.vehicles.map((v) => v.id));
    for (const b of f.devices) assert.ok(vehicleIds.has(b.vehicleId));
  });

  it('uses the device prefix and handles small fleets', () => {
    const f = demoFleet(10, 'trk-');
    assert.equal(f.devices.length, 10);
    assert.equal(f.devices[0].deviceId, 'trk-1');
    assert.equal(demoFleet(0).vehicles.length, 0);
    assert.throws(() => demoFleet(-1), RangeError);
  });

  it('demo/fleet.json is the 3000-device demo fleet', () => {
    const file = JSON.parse(readFileSync(new URL('../../demo/fleet.json', import.meta.url), 'utf8')) as unknown;
    assert.deepEqual(file, JSON.parse(JSON.stringify(demoFleet(3000))));
  });
});
