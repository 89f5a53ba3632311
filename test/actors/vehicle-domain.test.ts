import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { SettingsOverride } from '../../actors/domain/domain-settings.js';
import { parseSettingsOverride, resolveSettings, DEFAULT_SETTINGS } from '../../actors/domain/domain-settings.js';
import { fromSnapshot, toSnapshot } from '../../actors/vehicle-logic.js';
import { packSnapshot, unpackSnapshot } from '../../adapters/codec/snapshot-codec.js';
import { LivenessWheel } from '../../actors/liveness-wheel.js';
import { at, drive, stand, T0, VehicleDriver } from '../support/vehicle-driver.js';

interface FilterCase {
  readonly name: string;
  readonly settings?: SettingsOverride;
  readonly before?: TelemetryPoint[];
  readonly point: TelemetryPoint;
  /** When the point was received (default: its own time). */
  readonly receivedAt?: number;
  /** The rejection, or null: accepted. */
  readonly expect: string | null;
}

const base = at(0, 0, 0, { speed: 0 });
const filterCases: FilterCase[] = [
  { name: 'invalid fix', point: at(0, 0, 0, { attrs: { valid: false } }), expect: 'INVALID_FIX' },
  { name: 'invalid fix, filter off', settings: { filterInvalid: false }, point: at(0, 0, 0, { attrs: { valid: false } }), expect: null },
  { name: 'zero coordinates', point: { deviceId: 'dev-1', ts: T0, lat: 0, lon: 0 }, expect: 'ZERO_COORDINATES' },
  { name: 'zero coordinates, filter off', settings: { filterZero: false }, point: { deviceId: 'dev-1', ts: T0, lat: 0, lon: 0 }, expect: null },
  { name: 'duplicate timestamp', before: [base], point: at(0, 50, 0), expect: 'DUPLICATE' },
  { name: 'future beyond 24 h', point: at(25 * 3600, 0), receivedAt: T0, expect: 'FUTURE_TIMESTAMP' },
  { name: 'future within 24 h: stored, not live', point: at(23 * 3600, 0), receivedAt: T0, expect: null },
  { name: 'future beyond filterFutureS 1 h', settings: { filterFutureS: 3600 }, point: at(2 * 3600, 0), receivedAt: T0, expect: 'FUTURE_TIMESTAMP' },
  { name: 'past, filter off by default', point: at(-30 * 86_400, 0), receivedAt: T0, expect: null },
  { name: 'past beyond filterPastS 1 day', settings: { filterPastS: 86_400 }, point: at(-2 * 86_400, 0), receivedAt: T0, expect: 'PAST_TIMESTAMP' },
  { name: 'hdop above filterMaxHdop', settings: { filterMaxHdop: 2 }, point: at(0, 0, 0, { attrs: { hdop: 5 } }), expect: 'LOW_ACCURACY' },
  { name: 'hdop within filterMaxHdop', settings: { filterMaxHdop: 2 }, point: at(0, 0, 0, { attrs: { hdop: 1.5 } }), expect: null },
  { name: 'satellites below filterMinSatellites', settings: { filterMinSatellites: 4 }, point: at(0, 0, 0, { attrs: { sat: 3 } }), expect: 'LOW_ACCURACY' },
  { name: 'satellites enough', settings: { filterMinSatellites: 4 }, point: at(0, 0, 0, { attrs: { satellites: 7 } }), expect: null },
  { name: 'accuracy above filterMaxAccuracyM', settings: { filterMaxAccuracyM: 100 }, point: at(0, 0, 0, { attrs: { accuracy: 500 } }), expect: 'LOW_ACCURACY' },
  { name: 'low accuracy, filters off by default', point: at(0, 0, 0, { attrs: { hdop: 50, sat: 0, accuracy: 5000 } }), expect: null },
  { name: 'impossible jump (10 km in 10 s)', before: [base], point: at(10, 10_000), expect: 'IMPOSSIBLE_JUMP' },
  { name: 'fast but possible (1 km in 30 s)', before: [base], point: at(30, 1000), expect: null },
  { name: 'impossible jump, filterMaxSpeedKmh off', settings: { filterMaxSpeedKmh: 0 }, before: [base], point: at(10, 10_000), expect: null },
  { name: 'sooner than filterMinPeriodS', settings: { filterMinPeriodS: 30 }, before: [base], point: at(10, 100), expect: 'MIN_PERIOD' },
  { name: 'sooner than filterMinPeriodS, ignition changed', settings: { filterMinPeriodS: 30 }, before: [at(0, 0, 0, { ignition: false })], point: at(10, 100, 0, { ignition: true }), expect: null },
  { name: 'closer than filterMinDistanceM', settings: { filterMinDistanceM: 50 }, before: [base], point: at(60, 30), expect: 'MIN_DISTANCE' },
  { name: 'further than filterMinDistanceM', settings: { filterMinDistanceM: 50 }, before: [base], point: at(60, 80), expect: null },
];

describe('#10 filters: each rule, each threshold, counted by reason', () => {
  for (const c of filterCases) {
    it(`#10 ${c.name} → ${c.expect ?? 'accepted'}`, () => {
      const v = new VehicleDriver(c.settings);
      if (c.before) v.send(c.before);
      v.send([c.point], c.receivedAt ?? c.point.ts);
      if (c.expect === null) {
        assert.deepEqual(v.rejections, []);
        assert.equal(v.stored.at(-1), c.point, 'stored in history');
      } else {
        assert.deepEqual(v.rejections, [c.expect]);
        assert.notEqual(v.stored.at(-1), c.point, 'not stored');
      }
    });
  }

  it('#10 a point stamped in the future (within 24 h) never freezes the vehicle: later real points stay live', () => {
    const v = new VehicleDriver();
    v.send([at(0, 0)], T0).send([at(2 * 3600, 500)], T0 + 10_000).send([at(20, 100, 0, { speed: 30 })], T0 + 20_000);
    assert.equal(v.state.view?.ts, T0 + 20_000);
    assert.equal(v.stored.length, 3, 'the future point is in history');
  });

  it('#10 GPS jitter at a standstill is snapped: no movement, no odometer, no trip', () => {
    const v = new VehicleDriver();
    v.send([at(0, 0, 0, { speed: 0 })]);
    v.send(stand(0, 0, 3600, 30, 12));
    assert.equal(v.state.view?.lat, at(0, 0).lat);
    assert.equal(v.state.view?.lon, at(0, 0).lon);
    assert.equal(v.state.view?.odometer, 0);
    assert.equal(v.state.view?.moving, false);
    assert.deepEqual(v.trips(), []);
    assert.ok(!v.types.includes('trip_start'));
  });

  it('#10 jitter wider than the snapping radius (up to 80 m) is still no trip and no movement', () => {
    const v = new VehicleDriver();
    v.send([at(0, 0, 0, { speed: 0 })]);
    for (const p of stand(0, 0, 3600, 20, 80)) v.send([p]);
    assert.equal(v.state.view?.moving, false);
    assert.deepEqual(v.trips(), []);
    assert.deepEqual(v.types.filter((t) => t.startsWith('trip') || t.startsWith('stop')), []);
  });
});

interface EventCase {
  readonly name: string;
  readonly settings?: SettingsOverride;
  readonly speedLimit?: number;
  readonly messages: TelemetryPoint[][];
  readonly expect: string[];
  /** Only events whose type starts with this are compared. */
  readonly only?: string;
  readonly check?: (v: VehicleDriver) => void;
}

const parked = (s: number, seconds: number, extra: Partial<TelemetryPoint> = {}) => stand(s, 0, seconds, 30, 0, extra);
const eventCases: EventCase[] = [
  {
    name: 'trip_start once 200 m from the stop, stop_end at the departure point',
    messages: [[at(0, 0, 0, { speed: 0 })], parked(0, 300), drive(300, 0, 36, 60)],
    expect: ['stop_end', 'trip_start'],
    check: (v) => {
      assert.equal(v.events.find((e) => e.type === 'trip_start')?.ts, T0 + 300_000, 'the trip starts at the last point that stood still');
      assert.ok(Math.abs(v.trips()[0].distanceKm - 0.6) < 0.001, `${v.trips()[0].distanceKm}`);
    },
  },
  {
    name: 'no trip within 199 m (tripMinDistanceM)',
    messages: [[at(0, 0, 0, { speed: 0 })], [at(30, 150, 0, { speed: 10 })], [at(60, 199, 0, { speed: 10 })]],
    expect: [],
  },
  {
    name: 'trip_end and stop_start after 180 s within 200 m, stamped at arrival',
    messages: [[at(0, 0, 0, { speed: 0 })], drive(0, 0, 36, 120), parked(120, 240).map((p) => ({ ...p, lat: at(0, 1200).lat }))],
    expect: ['stop_end', 'trip_start', 'trip_end', 'stop_start'],
    check: (v) => {
      const trip = v.trips()[0];
      assert.equal(trip.closed, true);
      assert.equal(trip.endTs, T0 + 120_000);
      assert.ok(Math.abs(trip.distanceKm - 1.2) < 0.01, `distance ${trip.distanceKm}`);
      assert.equal(trip.maxSpeed, 36);
    },
  },
  {
    name: 'still moving when stopped for 150 s only (stopMinDurationS 180)',
    messages: [[at(0, 0, 0, { speed: 0 })], drive(0, 0, 36, 120), parked(120, 150).map((p) => ({ ...p, lat: at(0, 1200).lat }))],
    expect: ['stop_end', 'trip_start'],
  },
  {
    name: 'stopMinDurationS 60 per vehicle: stopped after 60 s',
    settings: { stopMinDurationS: 60 },
    messages: [[at(0, 0, 0, { speed: 0 })], drive(0, 0, 36, 120), parked(120, 90).map((p) => ({ ...p, lat: at(0, 1200).lat }))],
    expect: ['stop_end', 'trip_start', 'trip_end', 'stop_start'],
  },
  {
    name: 'a gap over tripGapS ends the trip at its last point',
    messages: [[at(0, 0, 0, { speed: 0 })], drive(0, 0, 36, 120), [at(120 + 3700, 1300, 0, { speed: 0 })]],
    expect: ['stop_end', 'trip_start', 'trip_end', 'stop_start'],
    check: (v) => assert.equal(v.trips()[0].endTs, T0 + 120_000),
  },
  {
    name: 'legacy motion: 300 m is no trip (500 m needed)',
    settings: { motionLogic: 'legacy' },
    messages: [[at(0, 0, 0, { speed: 0 })], [at(60, 300, 0, { speed: 18 })], [at(120, 300, 0, { speed: 0 })]],
    expect: [],
  },
  {
    name: 'overspeed_start after 10 s over the limit, overspeed_end after 10 s under it',
    speedLimit: 50,
    messages: [drive(0, 0, 40, 30, 5), drive(30, 333, 70, 30, 5), drive(60, 916, 40, 30, 5)],
    only: 'overspeed',
    expect: ['overspeed_start', 'overspeed_end'],
    check: (v) => {
      const [start, end] = v.events.filter((e) => e.type.startsWith('overspeed'));
      assert.equal(start.ts, T0 + 35_000, 'stamped when it began');
      assert.equal(end.ts, T0 + 65_000);
      assert.equal(end.data?.maxSpeed, 70);
    },
  },
  {
    name: 'no overspeed for 5 s over the limit (overspeedMinDurationS 10)',
    speedLimit: 50,
    messages: [drive(0, 0, 40, 30, 5), drive(30, 333, 70, 5, 5), drive(35, 430, 40, 30, 5)],
    only: 'overspeed',
    expect: [],
  },
  {
    name: 'overspeed with the deployment speedLimitKmh and a tolerance',
    settings: { speedLimitKmh: 60, overspeedToleranceKmh: 5, overspeedMinDurationS: 0 },
    messages: [drive(0, 0, 64, 20, 5), drive(20, 355, 70, 10, 5)],
    only: 'overspeed',
    expect: ['overspeed_start'],
  },
  {
    name: 'idle_start after 120 s of ignition on while stopped, idle_end when it goes off',
    messages: [[at(0, 0, 0, { speed: 0, ignition: false })], parked(0, 150, { ignition: true }), parked(150, 60, { ignition: false })],
    expect: ['ignition_on', 'idle_start', 'idle_end', 'ignition_off'],
    check: (v) => {
      assert.equal(v.events.find((e) => e.type === 'idle_start')?.ts, T0 + 30_000, 'idle since the ignition went on');
      assert.ok(v.segments[0].idleMs >= 120_000, `idle ${v.segments[0].idleMs}`);
    },
  },
  {
    name: 'no idle for 90 s (idleMinDurationS 120)',
    messages: [[at(0, 0, 0, { speed: 0, ignition: false })], parked(0, 90, { ignition: true }), parked(90, 60, { ignition: false })],
    expect: ['ignition_on', 'ignition_off'],
  },
  {
    name: 'fuel_refuel once per refuel, on the smoothed level',
    messages: [parked(0, 300, { fuel: 30 }), parked(300, 300, { fuel: 80 })],
    expect: ['fuel_refuel'],
    check: (v) => assert.deepEqual(v.events.find((e) => e.type === 'fuel_refuel')?.data, { from: 30, to: 80, amount: 50 }),
  },
  {
    name: 'one noisy fuel reading is neither refuel nor drain',
    messages: [parked(0, 150, { fuel: 30 }), [at(160, 0, 0, { speed: 0, fuel: 90 })], [at(170, 0, 0, { speed: 0, fuel: 0 })], parked(170, 150, { fuel: 30 })],
    expect: [],
  },
  {
    name: 'fuel_drain while stopped',
    messages: [parked(0, 300, { fuel: 60 }), parked(300, 300, { fuel: 35 })],
    expect: ['fuel_drain'],
  },
  {
    name: 'fuel falling while driving is consumption, not a drain',
    messages: [[at(0, 0, 0, { speed: 0 })], drive(0, 0, 60, 1800, 30).map((p, i) => ({ ...p, fuel: 60 - i * 0.5 }))],
    expect: ['stop_end', 'trip_start'],
  },
  {
    name: 'driver_changed on a new driver id',
    messages: [[at(0, 0, 0, { attrs: { driverUniqueId: 'D1' } })], [at(30, 0, 0, { attrs: { driverUniqueId: 'D1' } })], [at(60, 0, 0, { attrs: { driverUniqueId: 'D2' } })]],
    expect: ['driver_changed', 'driver_changed'],
    check: (v) => assert.deepEqual(v.events.filter((e) => e.type === 'driver_changed')[1].data, { driver: 'D2', previous: 'D1' }),
  },
  {
    name: 'driver from another attribute (driverAttribute)',
    settings: { driverAttribute: 'rfid' },
    messages: [[at(0, 0, 0, { attrs: { rfid: 'A7', driverUniqueId: 'x' } })]],
    expect: ['driver_changed'],
  },
  {
    name: 'alarm once while the device repeats it, again when it comes back',
    messages: [[at(0, 0, 0, { attrs: { alarm: 'sos' } })], [at(30, 0, 0, { attrs: { alarm: 'sos' } })], [at(60, 0, 0, {})], [at(90, 0, 0, { attrs: { alarm: 'sos' } })]],
    expect: ['alarm', 'alarm'],
  },
];

describe('#10 events: start and end of each, each threshold', () => {
  for (const c of eventCases) {
    it(`#10 ${c.name}`, () => {
      const v = new VehicleDriver(c.settings, c.speedLimit !== undefined ? { speedLimit: c.speedLimit } : {});
      for (const m of c.messages) v.send(m);
      v.settle();
      assert.deepEqual(v.types.filter((t) => t !== 'device_online' && t.startsWith(c.only ?? '')), c.expect);
      c.check?.(v);
      // Deterministic ids: the same trace in a fresh actor yields the same ids.
      const again = new VehicleDriver(c.settings, c.speedLimit !== undefined ? { speedLimit: c.speedLimit } : {});
      for (const m of c.messages) again.send(m);
      again.settle();
      assert.deepEqual(again.events.map((e) => e.id), v.events.map((e) => e.id));
    });
  }

  it('#10 device_online on the first point, device_offline from the status timer after offlineTimeoutS, online again', () => {
    // No reorder window: its timer bookings (reorder-window.test.ts) would come first here.
    const v = new VehicleDriver({ reorderWindowS: 0 });
    v.send([at(0, 0)], T0);
    assert.deepEqual(v.types, ['device_online']);
    assert.equal(v.state.view?.status, 'online');
    assert.equal(v.due, T0 + 600_000);
    v.tick(T0 + 599_000);
    assert.deepEqual(v.types, ['device_online'], 'not yet');
    v.send([at(300, 0)], T0 + 300_000);
    v.tick(T0 + 600_000);
    assert.equal(v.due, T0 + 900_000, 'heard from since: checked again later');
    v.tick(T0 + 900_000);
    assert.deepEqual(v.types, ['device_online', 'device_offline']);
    assert.equal(v.events[1].ts, T0 + 900_000);
    assert.deepEqual(v.deltas.at(-1), { id: 'veh-1', status: 'offline' });
    v.send([at(1000, 0)], T0 + 1_000_000);
    assert.deepEqual(v.types, ['device_online', 'device_offline', 'device_online']);
  });

  it('#10 offlineTimeoutS per vehicle', () => {
    const v = new VehicleDriver({ offlineTimeoutS: 60 });
    v.send([at(0, 0)], T0).tick(T0 + 60_000);
    assert.deepEqual(v.types, ['device_online', 'device_offline']);
  });
});

describe('#10 late and out-of-order points', () => {
  it('#10 a burst reordered within one message is applied in time order: the same as in order', () => {
    const points = [[at(0, 0, 0, { speed: 0 })], ...drive(0, 0, 36, 300).map((p) => [p])];
    const inOrder = new VehicleDriver();
    for (const m of points) inOrder.send(m);
    const burst = new VehicleDriver();
    burst.send(points[0]);
    const rest = points.slice(1).flat();
    burst.send([...rest].reverse());
    assert.deepEqual(burst.rejections, []);
    assert.equal(burst.state.view?.odometer, inOrder.state.view?.odometer);
    assert.deepEqual(burst.types, inOrder.types);
    assert.deepEqual(burst.segments, inOrder.segments);
  });

  it('#10 a late point repairs the odometer and its trip, fires no live event, never moves the vehicle back', () => {
    // A drive north with one point missing: its detour (300 m east) is only known when it arrives late.
    const late = at(100, 1000, 300, { speed: 40 });
    const route = [at(0, 0, 0, { speed: 0 }), ...drive(0, 0, 36, 200)].filter((p) => p.ts !== late.ts);
    const full = [...route.filter((p) => p.ts < late.ts), late, ...route.filter((p) => p.ts > late.ts)];
    const reference = new VehicleDriver();
    for (const p of full) reference.send([p]);

    const v = new VehicleDriver();
    for (const p of route) v.send([p]);
    const before = { odometer: v.state.view?.odometer as number, events: v.events.length, view: { ...v.state.view } };
    v.send([late], T0 + 200_000);
    assert.equal(v.events.length, before.events, 'no live event');
    assert.equal(v.state.view?.lat, before.view.lat);
    assert.equal(v.state.view?.ts, before.view.ts, 'the live position stays');
    assert.ok((v.state.view?.odometer as number) > before.odometer + 0.1, 'the detour is counted');
    assert.equal(v.state.view?.odometer, reference.state.view?.odometer, 'as if it had come in time');
    assert.equal(v.trips()[0].distanceKm, reference.trips()[0].distanceKm, 'the trip is repaired (and written again)');
    assert.equal(v.trips()[0].maxSpeed, 40);
    assert.deepEqual(v.deltas.at(-1), { id: 'veh-1', odometer: v.state.view?.odometer });
    assert.equal(v.stored.at(-1), late, 'stored in history');
    // The same late point again is a duplicate: nothing is repaired twice.
    v.send([late], T0 + 201_000);
    assert.deepEqual(v.rejections, ['DUPLICATE']);
    assert.equal(v.state.view?.odometer, reference.state.view?.odometer);
  });

  it('#10 a point older than the repair window is stored only', () => {
    const v = new VehicleDriver();
    for (const p of [at(0, 0, 0, { speed: 0 }), ...drive(0, 0, 36, 400)]) v.send([p]);
    const odometer = v.state.view?.odometer;
    v.send([at(5, 5000, 5000)], T0 + 400_000);
    assert.equal(v.state.view?.odometer, odometer);
    assert.equal(v.stored.length, 42, 'stored in history');
  });
});

describe('#10 snapshots carry the domain state', () => {
  it('#10 snapshot mid-trip, restore, go on: the same result as without the restore', () => {
    const messages = [[at(0, 0, 0, { speed: 0, ignition: true, fuel: 40 })], ...drive(0, 0, 72, 600, 10, { ignition: true, fuel: 40 }).map((p) => [p]), stand(600, 12_000, 400, 20, 0, { ignition: true, fuel: 40 })];
    const whole = new VehicleDriver({}, { speedLimit: 60 });
    for (const m of messages) whole.send(m);

    const first = new VehicleDriver({}, { speedLimit: 60 });
    const half = 30;
    for (const m of messages.slice(0, half)) first.send(m);
    assert.equal(first.state.view?.moving, true, 'mid-trip');
    const bytes = packSnapshot(toSnapshot(first.state)!);
    const second = new VehicleDriver({}, { speedLimit: 60 });
    second.state = fromSnapshot(unpackSnapshot(bytes), first.state.profile);
    for (const m of messages.slice(half)) second.send(m);
    assert.deepEqual([...first.events, ...second.events].map((e) => e.id), whole.events.map((e) => e.id));
    assert.deepEqual(second.state.view, whole.state.view);
    const merged = new Map([...first.segmentsById, ...second.segmentsById]);
    assert.deepEqual([...merged.values()].sort((a, b) => a.startTs - b.startTs), whole.segments);
  });

  it('#10 a snapshot from before the domain state still restores (stopped where its view is)', () => {
    const old = { vehicleId: 'veh-1', deviceId: 'dev-1', partition: 0, accepted: 3, recent: [], overspeeding: true, view: { id: 'veh-1', company: 'acme', lat: 52.5, lon: 13.4, ts: T0, speed: 0, moving: false } };
    const s = fromSnapshot(unpackSnapshot(packSnapshot(old)), { vehicleId: 'veh-1', company: 'acme' });
    assert.equal(s.domain.moving, false);
    assert.equal(s.domain.anchorLat, 52.5);
    assert.equal(s.domain.overspeeding, true);
    assert.equal(s.domain.status, 'unknown');
  });
});

describe('#10 settings', () => {
  it('#10 the vehicle overrides its company, the company the deployment; bad keys are named and left out', () => {
    const s = resolveSettings({ ...DEFAULT_SETTINGS, offlineTimeoutS: 300 }, { offlineTimeoutS: 120, idleMinDurationS: 30 }, { idleMinDurationS: 60 });
    assert.equal(s.offlineTimeoutS, 120);
    assert.equal(s.idleMinDurationS, 60);
    const parsed = parseSettingsOverride({ tripGapS: 7200, nope: 1, jitterRadiusM: -5, motionLogic: 'weird' });
    assert.deepEqual(parsed.value, { tripGapS: 7200 });
    assert.equal(parsed.problems.length, 3);
    assert.deepEqual([resolveSettings(DEFAULT_SETTINGS, { motionLogic: 'legacy' })].map((x) => [x.tripMinDistanceM, x.stopMinDurationS, x.tripGapS]), [[500, 300, 300]]);
  });

  it('#10 the status wheel hands each vehicle out once, when due', () => {
    const w = new LivenessWheel();
    w.schedule('a', 10_000);
    w.schedule('b', 12_500);
    w.schedule('a', 20_000);
    assert.deepEqual(w.due(9_000), []);
    assert.deepEqual(w.due(10_000), ['a']);
    assert.deepEqual(w.due(13_000), ['b']);
    assert.deepEqual(w.due(60_000), []);
    assert.equal(w.size, 0);
  });
});
