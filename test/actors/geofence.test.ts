import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGeofenceShape, shapeContains, type Geofence, type GeofenceShape } from '../../actors/domain/geofence.js';
import { GeofenceIndex } from '../../actors/geofence-index.js';
import { currentSpeedLimit, geofenceSpeedLimit, newPresence } from '../../actors/geofence-tracker.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { applyPoint, fromSnapshot, newVehicleState, toSnapshot, type VehicleState } from '../../actors/vehicle-logic.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleDelta } from '../../actors/domain/vehicle-state.js';
import { packSnapshot, unpackSnapshot } from '../../adapters/codec/snapshot-codec.js';
import { DEFAULT_SETTINGS } from '../../actors/domain/domain-settings.js';

/**
 * Geofences are under test here: overspeed fires at once (not after the anti-flapping delay), and
 * the traces hop in and out of a 100 km square faster than the jump filter would let through.
 */
const IMMEDIATE = { ...DEFAULT_SETTINGS, overspeedMinDurationS: 0, filterMaxSpeedKmh: 0 };

const square: GeofenceShape = { type: 'polygon', coordinates: [[[13, 52], [14, 52], [14, 53], [13, 53]]] };
const withHole: GeofenceShape = { type: 'polygon', coordinates: [[[13, 52], [14, 52], [14, 53], [13, 53], [13, 52]], [[13.4, 52.4], [13.6, 52.4], [13.6, 52.6], [13.4, 52.6]]] };
const concave: GeofenceShape = { type: 'polygon', coordinates: [[[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]]] };
const circle: GeofenceShape = { type: 'circle', center: [13.4, 52.5], radius: 1000 };
/** A road along the equator from lon 0 to lon 0.1 (about 11 km), 100 m wide. */
const corridor: GeofenceShape = { type: 'corridor', coordinates: [[0, 0], [0.1, 0]], width: 100 };
const bend: GeofenceShape = { type: 'corridor', coordinates: [[0, 0], [0.01, 0], [0.01, 0.01]], width: 20 };
/** Metres → degrees of latitude. */
const m = (metres: number) => metres / 111_195.08;

describe('geofence containment (#10)', () => {
  const cases: [string, GeofenceShape, number, number, boolean][] = [
    ['polygon: inside', square, 52.5, 13.5, true],
    ['polygon: outside', square, 51.9, 13.5, false],
    ['polygon: on an edge counts inside', square, 52, 13.5, true],
    ['polygon: on a vertex counts inside', square, 53, 14, true],
    ['polygon: just outside an edge', square, 53.000001, 13.5, false],
    ['polygon with a hole: in the ring', withHole, 52.2, 13.2, true],
    ['polygon with a hole: in the hole', withHole, 52.5, 13.5, false],
    ['concave polygon: in the notch', concave, 3, 2, false],
    ['concave polygon: in an arm', concave, 3, 0.5, true],
    ['circle: centre', circle, 52.5, 13.4, true],
    ['circle: 990 m north', circle, 52.5 + m(990), 13.4, true],
    ['circle: 1010 m north', circle, 52.5 + m(1010), 13.4, false],
    ['corridor: on the line', corridor, 0, 0.05, true],
    ['corridor: 49 m beside it', corridor, m(49), 0.05, true],
    ['corridor: 51 m beside it', corridor, m(51), 0.05, false],
    ['corridor: 40 m beyond its end (rounded cap)', corridor, 0, 0.1 + m(40), true],
    ['corridor: 60 m beyond its end', corridor, 0, 0.1 + m(60), false],
    ['corridor with a bend: inside the corner', bend, m(5), 0.01 - m(5), true],
    ['corridor with a bend: off the corner diagonally', bend, -m(8), 0.01 + m(8), false],
  ];
  for (const [name, shape, lat, lon, expected] of cases) {
    it(name, () => assert.equal(shapeContains(shape, lat, lon), expected));
  }

  it('parses the shapes of reference data and refuses broken ones', () => {
    assert.deepEqual(parseGeofenceShape([[13, 52], [14, 52], [14, 53]]), { type: 'polygon', coordinates: [[[13, 52], [14, 52], [14, 53]]] });
    assert.deepEqual(parseGeofenceShape({ type: 'circle', center: [1, 2], radius: 5 }), { type: 'circle', center: [1, 2], radius: 5 });
    for (const bad of [null, 3, { type: 'circle', center: [1, 2], radius: -1 }, { type: 'corridor', coordinates: [[0, 0]], width: 0 },
      { type: 'polygon', coordinates: [[[0, 0], [1, 1]]] }, { type: 'polygon', coordinates: [[[0, 0], [1, 1], [200, 0]]] }, { type: 'star' }]) {
      assert.equal(parseGeofenceShape(bad), null, JSON.stringify(bad));
    }
  });
});

const fence = (id: string, companyId: string, shape: GeofenceShape, extra: Partial<Geofence> = {}): Geofence => ({ id, companyId, name: `fence ${id}`, shape, ...extra });

describe('geofence index (#10)', () => {
  it('answers only the company asked for, and follows upserts and removals', () => {
    const index = new GeofenceIndex([fence('a1', 'A', square), fence('b1', 'B', square)]);
    const out: Geofence[] = [];
    index.containing('A', 52.5, 13.5, out);
    assert.deepEqual(out.map((f) => f.id), ['a1']);
    index.containing('C', 52.5, 13.5, out);
    assert.equal(out.length, 0);
    index.upsert(fence('a1', 'A', circle));
    index.containing('A', 52.7, 13.7, out);
    assert.equal(out.length, 0, 'the edited shape no longer holds the point');
    index.containing('A', 52.5, 13.4, out);
    assert.deepEqual(out.map((f) => f.id), ['a1']);
    index.upsert(fence('a1', 'B', circle));
    index.containing('A', 52.5, 13.4, out);
    assert.equal(out.length, 0, 'moved to another company');
    index.remove('b1');
    index.containing('B', 52.5, 13.4, out);
    assert.deepEqual(out.map((f) => f.id), ['a1']);
    assert.equal(index.size, 1);
  });
});

describe('speed limit resolution (#10)', () => {
  const fences = [fence('x', 'A', square, { speedLimit: 50 }), fence('y', 'A', square, { speedLimit: 30 }), fence('z', 'A', square)];
  const cases: [string, number | undefined, Geofence[], 'lowest' | 'highest', number | undefined][] = [
    ['no geofence: the vehicle\'s limit', 90, [], 'lowest', 90],
    ['no geofence, no vehicle limit: none', undefined, [], 'lowest', undefined],
    ['a geofence without a limit: the vehicle\'s', 90, [fences[2]], 'lowest', 90],
    ['one geofence with a limit replaces the vehicle\'s (lower)', 90, [fences[0]], 'lowest', 50],
    ['one geofence with a limit replaces the vehicle\'s (higher)', 40, [fences[0]], 'lowest', 50],
    ['several: lowest', 90, fences, 'lowest', 30],
    ['several: highest', 90, fences, 'highest', 50],
    ['a geofence limit without a vehicle limit', undefined, [fences[1]], 'highest', 30],
  ];
  for (const [name, vehicle, inside, mode, expected] of cases) {
    it(name, () => {
      const presence = newPresence();
      presence.speedLimit = geofenceSpeedLimit(inside, mode);
      assert.equal(currentSpeedLimit(vehicle, presence), expected);
    });
  }
});

const t0 = 1_700_000_000_000;
const IN = { lat: 52.5, lon: 13.5 };
const OUT = { lat: 51.5, lon: 13.5 };

function directoryWith(fences: Geofence[], dwellMs: number, speedLimit: 'lowest' | 'highest' = 'lowest'): FleetDirectory {
  return new FleetDirectory({
    companies: [{ id: 'A', name: 'A', active: true }, { id: 'B', name: 'B', active: true }],
    vehicles: [{ id: 'va', companyId: 'A', speedLimit: 90 }, { id: 'vb', companyId: 'B', speedLimit: 90 }],
    devices: [{ deviceId: 'da', vehicleId: 'va' }, { deviceId: 'db', vehicleId: 'vb' }],
    geofences: fences,
  }, { accept: false, limit: 0 }, IMMEDIATE, { dwellMs, speedLimit });
}

/** Feeds points at t0 + s seconds; returns the geofence events per point, as `type:id`. */
function drive(state: VehicleState, trace: [number, { lat: number; lon: number }, number?][]): { events: string[][]; deltas: VehicleDelta[]; all: VehicleEvent[] } {
  const events: string[][] = [];
  const deltas: VehicleDelta[] = [];
  const all: VehicleEvent[] = [];
  for (const [s, where, speed] of trace) {
    const out: VehicleEvent[] = [];
    const r = applyPoint(state, { deviceId: state.deviceId, ts: t0 + s * 1000, ...where, speed: speed ?? 20 }, out);
    if (r.accepted && r.delta !== null) deltas.push(r.delta);
    all.push(...out);
    events.push(out.filter((e) => e.type.startsWith('geofence')).map((e) => `${e.type}:${String(e.data?.geofenceId)}`));
  }
  return { events, deltas, all };
}

describe('geofence enter/exit with dwell (#10)', () => {
  const cases: { name: string; dwellS: number; trace: [number, { lat: number; lon: number }][]; expected: string[][] }[] = [
    { name: 'dwell 0: enter on the first point inside, exit on the first outside', dwellS: 0,
      trace: [[0, OUT], [10, IN], [20, IN], [30, OUT]], expected: [[], ['geofence_enter:sq'], [], ['geofence_exit:sq']] },
    { name: 'dwell 30 s: enter once 30 s inside', dwellS: 30,
      trace: [[0, OUT], [10, IN], [20, IN], [30, IN], [40, IN], [50, IN]], expected: [[], [], [], [], ['geofence_enter:sq'], []] },
    { name: 'dwell 30 s: a short visit fires nothing', dwellS: 30,
      trace: [[0, OUT], [10, IN], [20, IN], [30, OUT], [70, OUT]], expected: [[], [], [], [], []] },
    { name: 'dwell 30 s: a short excursion outside fires no exit', dwellS: 30,
      trace: [[0, IN], [30, IN], [40, OUT], [50, IN], [80, IN]], expected: [[], ['geofence_enter:sq'], [], [], []] },
    { name: 'dwell 30 s: exit once 30 s outside', dwellS: 30,
      trace: [[0, IN], [30, IN], [40, OUT], [60, OUT], [70, OUT]], expected: [[], ['geofence_enter:sq'], [], [], ['geofence_exit:sq']] },
    { name: 'a first point inside enters (dwell 0)', dwellS: 0, trace: [[0, IN]], expected: [['geofence_enter:sq']] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const dir = directoryWith([fence('sq', 'A', square)], c.dwellS * 1000);
      const s = newVehicleState(dir.profile('va'), 'da', 0);
      assert.deepEqual(drive(s, c.trace).events, c.expected);
    });
  }

  it('events carry deterministic ids, the geofence and when the change began', () => {
    const dir = directoryWith([fence('sq', 'A', square)], 20_000);
    const run = () => drive(newVehicleState(dir.profile('va'), 'da', 0), [[0, OUT], [10, IN], [30, IN]]).all.filter((e) => e.type === 'geofence_enter');
    const [a] = run();
    const [b] = run();
    assert.equal(a.id, `va:geofence_enter:${t0 + 30_000}:sq`);
    assert.equal(a.id, b.id);
    assert.deepEqual(a.data, { geofenceId: 'sq', name: 'fence sq', since: t0 + 10_000 });
    assert.equal(a.company, 'A');
  });

  it('two geofences at one point give two events with distinct ids, and the view lists both, sorted', () => {
    const dir = directoryWith([fence('z', 'A', square), fence('c', 'A', circle)], 0);
    const s = newVehicleState(dir.profile('va'), 'da', 0);
    const { all, deltas } = drive(s, [[0, { lat: 52.5, lon: 13.4 }]]);
    assert.deepEqual(all.map((e) => e.id), [`va:geofence_enter:${t0}:c`, `va:geofence_enter:${t0}:z`]);
    assert.deepEqual(deltas[0].geofences, ['c', 'z']);
  });

  it('the delta carries geofences only when the set changes, [] when the vehicle left them all', () => {
    const dir = directoryWith([fence('sq', 'A', square)], 0);
    const s = newVehicleState(dir.profile('va'), 'da', 0);
    const { deltas } = drive(s, [[0, OUT], [10, IN], [20, { lat: 52.6, lon: 13.5 }], [30, OUT]]);
    assert.deepEqual(deltas.map((d) => d.geofences), [undefined, ['sq'], undefined, []]);
    assert.equal(s.view?.geofences, undefined);
  });

  it("company A's geofences never apply to company B's vehicles", () => {
    const dir = directoryWith([fence('sq', 'A', square, { speedLimit: 30 })], 0);
    const b = newVehicleState(dir.profile('vb'), 'db', 0);
    const { all, deltas } = drive(b, [[0, IN, 50], [10, IN, 50]]);
    assert.deepEqual(all.filter((e) => e.type !== 'trip_start'), [], 'no geofence event and no overspeed at 50 under B\'s limit of 90');
    assert.equal(deltas[1].geofences, undefined);
    assert.equal(b.geofences.speedLimit, undefined);
  });

  it('a geofence speed limit drives overspeed', () => {
    const dir = directoryWith([fence('school', 'A', square, { speedLimit: 30 })], 0);
    const s = newVehicleState(dir.profile('va'), 'da', 0);
    const { all } = drive(s, [[0, OUT, 50], [10, IN, 50]]);
    const over = all.filter((e) => e.type === 'overspeed_start');
    assert.equal(over.length, 1);
    assert.deepEqual(over[0].data, { speed: 50, limit: 30 });
  });

  it('an added, edited and deleted geofence applies on the next point', () => {
    const dir = directoryWith([], 0);
    const s = newVehicleState(dir.profile('va'), 'da', 0);
    assert.deepEqual(drive(s, [[0, IN]]).events, [[]]);
    dir.apply({ kind: 'geofence', id: 'new', value: fence('new', 'A', square) });
    assert.deepEqual(drive(s, [[10, IN]]).events, [['geofence_enter:new']]);
    dir.apply({ kind: 'geofence', id: 'new', value: fence('new', 'A', circle) });
    assert.deepEqual(drive(s, [[20, IN]]).events, [['geofence_exit:new']], 'the edited shape no longer holds the point');
    assert.deepEqual(drive(s, [[30, { lat: 52.5, lon: 13.4 }]]).events, [['geofence_enter:new']]);
    dir.apply({ kind: 'geofence', id: 'new', value: null });
    assert.deepEqual(drive(s, [[40, { lat: 52.5, lon: 13.4 }]]).events, [['geofence_exit:new']]);
  });

  it('a restored actor continues: the inside set and a pending dwell survive a snapshot', () => {
    const dir = directoryWith([fence('sq', 'A', square), fence('c', 'A', circle)], 30_000);
    const s = newVehicleState(dir.profile('va'), 'da', 0);
    drive(s, [[0, { lat: 52.5, lon: 13.4 }], [30, { lat: 52.5, lon: 13.4 }], [40, { lat: 52.7, lon: 13.7 }]]);
    assert.deepEqual(s.view?.geofences, ['c', 'sq']);
    const snap = toSnapshot(s);
    assert.ok(snap);
    const restored = fromSnapshot(unpackSnapshot(packSnapshot(snap)), dir.profile('va'));
    const { events, deltas } = drive(restored, [[50, { lat: 52.7, lon: 13.7 }], [70, { lat: 52.7, lon: 13.7 }]]);
    assert.deepEqual(events, [[], ['geofence_exit:c']], 'the exit pending since 40 s fires at 70 s, no enter again');
    assert.deepEqual(deltas.map((d) => d.geofences), [undefined, ['sq']]);
  });
});
