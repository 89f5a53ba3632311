import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { seedReference } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode, testToken } from '../support/engine.js';
import { VehicleDriver } from '../support/vehicle-driver.js';

const S = 1000;
/** Two hours ago, to the second: every point is in the past, none beyond the retention. */
const T0 = Math.floor((Date.now() - 2 * 3600 * S) / S) * S;
const M_PER_DEG_LAT = 111_195;

function point(s: number, northM: number, speed: number) {
  return { deviceId: 'da1', ts: T0 + s * S, lat: 52.5 + northM / M_PER_DEG_LAT, lon: 13.4, speed };
}

/**
 * The device was parked at the depot (0-600 s and 1200-1800 s), then drove 4 km north and
 * parked there (from 2200 s). What it did from 600 to 1200 s, a round trip to a site 2 km away
 * with a stop there, arrives late, after everything else: live, that hour is one stop at the
 * depot; the late points re-cut it into stop, trip, stop, trip, stop in the history.
 */
function day() {
  const live = [];
  for (let s = 0; s <= 600; s += 30) live.push(point(s, 0, 0));
  for (let s = 1200; s <= 1800; s += 30) live.push(point(s, 0, 0));
  for (let s = 1810; s <= 2200; s += 10) live.push(point(s, ((s - 1800) / 400) * 4000, s === 2200 ? 0 : 36));
  for (let s = 2230; s <= 2800; s += 30) live.push(point(s, 4000, 0));
  const late = [];
  for (let s = 610; s <= 800; s += 10) late.push(point(s, ((s - 600) / 200) * 2000, s === 800 ? 0 : 36));
  for (let s = 830; s <= 1000; s += 30) late.push(point(s, 2000, 0));
  for (let s = 1010; s <= 1190; s += 10) late.push(point(s, 2000 - ((s - 1000) / 200) * 2000, 36));
  return { live, late };
}

describe('#10 late points re-cut trips and stops in the history (PostgreSQL)', () => {
  let db: TestDatabase;
  let node: FleetlineNode;
  let token: string;
  before(async () => {
    db = await createTestDatabase();
    await seedReference(db, [{ id: 'A' }], [{ id: 'va1', companyId: 'A', deviceId: 'da1' }]);
    node = await startTestNode({ DATABASE_URL: db.url });
    token = await testToken({ companies: ['A'] });
  });
  after(async () => {
    await node?.close();
    await db?.drop();
  });

  const range = `from=${T0 - 60 * S}&to=${T0 + 3600 * S}&vehicle=va1`;
  const report = async (kind: 'trips' | 'stops'): Promise<TripSegment[]> => {
    const res = await fetch(`${node.url}/v1/reports/${kind}?${range}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as Record<string, TripSegment[]>)[kind];
  };
  const until = async (cond: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 300 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await cond(), what);
  };
  const rel = (ts: number) => (ts - T0) / S;

  it('#10 the trips and stops reports show the re-cut period, and no live event fires for it', async () => {
    const { live, late } = day();
    const headers = await adminHeaders();
    for (let i = 0; i < live.length; i += 10) assert.equal((await postJson(`${node.url}/v1/telemetry`, live.slice(i, i + 10), headers)).status, 202);
    await until(async () => (await report('trips')).length === 1 && (await report('stops')).length === 2, 'the live trip and stops are written');
    assert.deepEqual((await report('stops')).map((s) => [rel(s.startTs), s.closed]), [[0, true], [2200, false]], 'live: one stop at the depot');
    const eventsBefore = await (await fetch(`${node.url}/v1/vehicles/va1/events?from=${T0 - 60 * S}&to=${T0 + 3600 * S}`, { headers: { authorization: `Bearer ${token}` } })).json() as { events: { id: string }[] };

    assert.equal((await postJson(`${node.url}/v1/telemetry`, late, headers)).status, 202);
    await until(async () => (await report('trips')).length === 3, 'the re-cut trips are written');
    // What the vehicle logic makes of the same points had they arrived in order (the oracle).
    const oracle = new VehicleDriver({ filterMaxSpeedKmh: 0, jitterRadiusM: 0 }, {}, 'va1');
    const sorted = [...live, ...late].sort((a, b) => a.ts - b.ts);
    for (let i = 0; i < sorted.length; i += 10) oracle.send(sorted.slice(i, i + 10));
    oracle.settle();
    const shape = (list: TripSegment[]) => list.map((t) => [t.id, rel(t.startTs), rel(t.endTs), t.closed]);
    const trips = await report('trips');
    assert.deepEqual(shape(trips), shape(oracle.trips()));
    assert.equal(trips.length, 3, 'out to the site and back, then the live trip');
    for (const [i, t] of trips.entries()) assert.ok(Math.abs(t.distanceKm - oracle.trips()[i].distanceKm) < 0.01, `trip ${i}: ${t.distanceKm} km`);
    const stops = await report('stops');
    assert.deepEqual(shape(stops), shape(oracle.segments.filter((x) => x.kind === 'stop')));
    assert.equal(stops.at(-1)?.closed, false, 'the open stop is still the actor\'s');

    const events = await (await fetch(`${node.url}/v1/vehicles/va1/events?from=${T0 - 60 * S}&to=${T0 + 3600 * S}`, { headers: { authorization: `Bearer ${token}` } })).json() as { events: { id: string }[] };
    assert.deepEqual(events.events.map((e) => e.id), eventsBefore.events.map((e) => e.id), 'the late points fired no event');
    assert.equal(node.index.get('va1')?.ts, T0 + 2800 * S, 'the live position never went back');
  });
});
