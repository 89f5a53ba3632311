import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { SettingsOverride } from '../../actors/domain/domain-settings.js';
import { fromSnapshot, toSnapshot } from '../../actors/vehicle-logic.js';
import { at, drive, stand, T0, VehicleDriver } from '../support/vehicle-driver.js';

/**
 * The reorder window (actors/reorder-window.ts): points that arrive out of order within it give
 * exactly what the sorted points give: trips, stops, events, odometer, the live view.
 */
interface Case {
  readonly name: string;
  readonly settings?: SettingsOverride;
  readonly speedLimit?: number;
  /** In time order. */
  readonly points: TelemetryPoint[];
  /** The order they arrive in, one per message: indexes into `points`. */
  readonly arrival: (n: number) => number[];
}

/** Each pair swapped: every other point arrives after its successor. */
const pairsSwapped = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? Math.min(i + 1, n - 1) : i - 1)).map((v, i, a) => (a.indexOf(v) === i ? v : i));
/** Blocks of three reversed: a point up to two places (20 s) late. */
const triplesReversed = (n: number) => Array.from({ length: n }, (_, i) => {
  const block = Math.floor(i / 3) * 3;
  const size = Math.min(3, n - block);
  return block + size - 1 - (i - block);
});

const departure = [at(0, 0, 0, { speed: 0, ignition: false }), ...stand(0, 0, 120, 10, 5, { ignition: true }), ...drive(120, 0, 50, 120, 10, { ignition: true })];
const arrival = [...drive(0, 0, 60, 120, 10, { ignition: true }), ...stand(120, 2000, 240, 10, 0, { ignition: true }), ...stand(360, 2000, 60, 10, 0, { ignition: false })];
const overspeed = [...drive(0, 0, 60, 40, 5), ...drive(40, 666, 95, 40, 5), ...drive(80, 1722, 60, 60, 5)];

const cases: Case[] = [
  { name: 'departure from a stop with the ignition on: stop_end, trip_start, idle', points: departure, arrival: pairsSwapped },
  { name: 'departure, blocks of three reversed', points: departure, arrival: triplesReversed },
  { name: 'arrival: trip_end, stop_start, ignition_off', points: arrival, arrival: triplesReversed },
  { name: 'overspeed start and end', speedLimit: 80, points: overspeed, arrival: pairsSwapped },
  { name: 'overspeed, blocks of three reversed', speedLimit: 80, points: overspeed, arrival: triplesReversed },
];

function deliver(c: Case, order: number[] | null, settings: SettingsOverride): VehicleDriver {
  const v = new VehicleDriver({ ...c.settings, ...settings }, c.speedLimit !== undefined ? { speedLimit: c.speedLimit } : {});
  const seq = order ?? c.points.map((_, i) => i);
  let received = T0;
  for (const i of seq) {
    received = Math.max(received, c.points[i].ts) + 1;
    v.send([c.points[i]], received);
  }
  return v.settle();
}

function outcome(v: VehicleDriver) {
  const view = v.state.view;
  return {
    events: v.events.filter((e) => !e.type.startsWith('device_')).map((e) => e.id),
    segments: v.segments,
    odometer: view?.odometer,
    view: view && { lat: view.lat, lon: view.lon, ts: view.ts, moving: view.moving, alerts: view.alerts, ignition: view.ignition },
  };
}

describe('#10 reorder window: a reordered burst gives what the sorted points give', () => {
  for (const c of cases) {
    it(`#10 ${c.name}`, () => {
      const order = c.arrival(c.points.length);
      assert.deepEqual([...order].sort((a, b) => a - b), c.points.map((_, i) => i), 'every point once');
      assert.notDeepEqual(order, c.points.map((_, i) => i), 'out of order');
      const sorted = outcome(deliver(c, null, { reorderWindowS: 30 }));
      assert.ok(sorted.events.length > 0, 'the case fires events');
      const reordered = deliver(c, order, { reorderWindowS: 30 });
      assert.deepEqual(reordered.rejections, []);
      assert.deepEqual(outcome(reordered), sorted);
      // Without a window the same arrival is late data: repaired, not re-derived.
      assert.notDeepEqual(outcome(deliver(c, order, { reorderWindowS: 0 })), sorted);
    });
  }

  it('#10 the reordered burst delivered twice: the second time changes nothing', () => {
    const c = cases[0];
    const order = triplesReversed(c.points.length);
    const v = new VehicleDriver({ reorderWindowS: 30 });
    let received = T0;
    for (const i of [...order, ...order]) {
      received = Math.max(received, c.points[i].ts) + 1;
      v.send([c.points[i]], received);
    }
    v.settle();
    // Within the recent window a duplicate, older ones late (stored; PostgreSQL dedups them).
    assert.ok(v.rejections.length > 0 && v.rejections.every((r) => r === 'DUPLICATE'));
    assert.deepEqual(outcome(v), outcome(deliver(c, null, { reorderWindowS: 30 })));
  });
});

describe('#10 reorder window: when events go out', () => {
  it('#10 an event waits until its point is older than the window, then goes out once', () => {
    const v = new VehicleDriver({ reorderWindowS: 15 });
    v.send([at(0, 0, 0, { ignition: false })]);
    v.send([at(10, 0, 0, { ignition: true })]);
    assert.deepEqual(v.types, ['device_online'], 'held: an older point may still arrive');
    v.send([at(20, 0, 0, { ignition: true })]);
    assert.deepEqual(v.types, ['device_online'], '10 s is within the window');
    v.send([at(30, 0, 0, { ignition: true })]);
    assert.deepEqual(v.types, ['device_online', 'ignition_on']);
    v.send([at(40, 0, 0, { ignition: true })]);
    assert.deepEqual(v.types, ['device_online', 'ignition_on']);
  });

  it('#10 a quiet vehicle: the status timer lets them out after the window, and an older point is late from then on', () => {
    const v = new VehicleDriver({ reorderWindowS: 15 });
    v.send([at(0, 0, 0, { ignition: false })], T0);
    v.send([at(10, 0, 0, { ignition: true })], T0 + 10_000);
    assert.equal(v.due, T0 + 25_000, 'the timer is booked for the window');
    v.tick(T0 + 24_000);
    assert.deepEqual(v.types, ['device_online'], 'not yet');
    v.tick(T0 + 25_000);
    assert.deepEqual(v.types, ['device_online', 'ignition_on']);
    v.send([at(5, 0, 0, { ignition: false })], T0 + 26_000);
    assert.deepEqual(v.types, ['device_online', 'ignition_on'], 'late: stored, no event');
    assert.equal(v.state.view?.ts, T0 + 10_000, 'the live position never goes back');
    assert.equal(v.stored.length, 3);
  });

  it('#10 the live view moves at once: only events and new segments wait', () => {
    const v = new VehicleDriver({ reorderWindowS: 30 });
    v.send([at(0, 0, 0, { speed: 0 })]);
    v.send([at(10, 300, 0, { speed: 108 })]);
    assert.equal(v.state.view?.ts, T0 + 10_000);
    assert.equal(v.state.view?.moving, true);
    assert.ok(!v.types.includes('trip_start'));
    assert.deepEqual(v.segments.map((s) => s.kind), [], 'the first stop waits too (its start may still move)');
    v.settle();
    assert.deepEqual(v.types.filter((t) => t !== 'device_online'), ['stop_end', 'trip_start']);
    assert.deepEqual(v.segments.map((s) => s.kind), ['stop', 'trip']);
  });

  it('#10 a point out of order moves nothing backwards and sends the view of the sorted points', () => {
    const v = new VehicleDriver({ reorderWindowS: 30 });
    v.send([at(0, 0, 0, { speed: 50 })]).send([at(20, 280, 0, { speed: 50 })]);
    const before = v.state.view?.odometer as number;
    v.send([at(10, 140, 80, { speed: 50 })], T0 + 21_000);
    assert.equal(v.state.view?.ts, T0 + 20_000);
    assert.ok((v.state.view?.odometer as number) > before, 'the detour is counted');
    const delta = v.deltas.at(-1) ?? {};
    assert.ok('odometer' in delta && !('lat' in delta) && !('ts' in delta), JSON.stringify(delta));
  });

  it('#10 held events survive a snapshot and go out after the restore', () => {
    const v = new VehicleDriver({ reorderWindowS: 30 });
    v.send([at(0, 0, 0, { ignition: false })]).send([at(10, 0, 0, { ignition: true })]);
    const snap = toSnapshot(v.state);
    assert.deepEqual(snap?.heldEvents?.map((e) => e.type), ['ignition_on']);
    const w = new VehicleDriver({ reorderWindowS: 30 });
    w.state = fromSnapshot(JSON.parse(JSON.stringify(snap)), v.state.profile);
    w.send([at(20, 0, 0, { ignition: true })]);
    assert.deepEqual(w.types, ['ignition_on'], 'once, and the restored vehicle was online already');
  });
});
