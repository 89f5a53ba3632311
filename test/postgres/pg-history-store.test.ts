import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgHistoryStore } from '../../adapters/postgres/pg-history-store.js';
import { DAY_MS, dayStart, dropExpiredPartitions, ensurePartitions, listPartitions, partitionName } from '../../adapters/postgres/position-partitions.js';
import type { PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { eventId } from '../../actors/domain/vehicle-event.js';
import { createTestDatabase, type TestDatabase } from './pg-test-db.js';

const TODAY = dayStart(Date.now());

function positions(day: number, vehicles: number, perVehicle: number): PositionRow[] {
  const rows: PositionRow[] = [];
  for (let v = 0; v < vehicles; v++) {
    for (let k = 0; k < perVehicle; k++) {
      rows.push({
        vehicleId: `veh-${v}`,
        point: {
          deviceId: `dev-${v}`,
          ts: day + 3_600_000 + k * 10_000 + v,
          lat: 55 + k * 0.001,
          lon: 37 + v * 0.001,
          speed: k,
          ...(k % 2 === 0 ? { course: 90, ignition: true, fuel: 40.5, odometer: 1000 + k, alt: 120 } : {}),
          ...(k === 0 ? { attrs: { sat: 8, note: 'quote " and \\ backslash' } } : {}),
        },
      });
    }
  }
  return rows;
}

async function count(db: TestDatabase, table: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n;
}

describe('PgHistoryStore (real PostgreSQL)', () => {
  let db: TestDatabase;
  let store: PgHistoryStore;

  before(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
    store = new PgHistoryStore(db.pool, { chunkSize: 700 });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('a batch across 3 days creates 3 daily partitions and writes every row', async () => {
    const batch = [...positions(TODAY - 2 * DAY_MS, 10, 50), ...positions(TODAY - DAY_MS, 10, 50), ...positions(TODAY, 10, 50)];
    await store.appendPositions(batch);
    const parts = await listPartitions(db.pool);
    assert.deepEqual(parts.map((p) => p.name), [partitionName(TODAY - 2 * DAY_MS), partitionName(TODAY - DAY_MS), partitionName(TODAY)]);
    assert.equal(await count(db, 'positions'), 1500);
    for (const p of parts) assert.equal(await count(db, p.name), 500);
  });

  it('stores every field; optional ones as NULL', async () => {
    const { rows } = await db.pool.query(
      `SELECT device_id, ts, lat, lon, speed, course, alt, ignition, fuel, odometer, attrs FROM positions WHERE vehicle_id = 'veh-3' ORDER BY ts LIMIT 2`,
    );
    assert.equal(rows[0].device_id, 'dev-3');
    assert.equal(rows[0].ts.getTime(), TODAY - 2 * DAY_MS + 3_600_000 + 3);
    assert.equal(rows[0].ignition, true);
    assert.equal(rows[0].fuel, 40.5);
    assert.deepEqual(rows[0].attrs, { sat: 8, note: 'quote " and \\ backslash' });
    assert.equal(rows[1].course, null);
    assert.equal(rows[1].attrs, null);
  });

  it('replaying the same batch writes nothing twice (also duplicates inside one batch)', async () => {
    const batch = [...positions(TODAY - 2 * DAY_MS, 10, 50), ...positions(TODAY - DAY_MS, 10, 50), ...positions(TODAY, 10, 50)];
    await store.appendPositions(batch);
    await store.appendPositions([...batch.slice(0, 10), ...batch.slice(0, 10)]);
    assert.equal(await count(db, 'positions'), 1500);
    // A fresh store (empty partition cache, as after a restart) replays too.
    await new PgHistoryStore(db.pool).appendPositions(batch);
    assert.equal(await count(db, 'positions'), 1500);
  });

  it('retention drops the partitions older than N days and keeps the rest', async () => {
    await store.appendPositions(positions(TODAY - 40 * DAY_MS, 3, 5));
    await ensurePartitions(db.pool, TODAY - 35 * DAY_MS, TODAY - 33 * DAY_MS);
    assert.equal((await listPartitions(db.pool)).length, 7);
    const dropped = await store.dropExpiredPartitions(30);
    assert.deepEqual(dropped, [40, 35, 34, 33].map((d) => partitionName(TODAY - d * DAY_MS)));
    assert.deepEqual((await listPartitions(db.pool)).map((p) => p.name), [2, 1, 0].map((d) => partitionName(TODAY - d * DAY_MS)));
    assert.equal(await count(db, 'positions'), 1500);
    assert.deepEqual(await dropExpiredPartitions(db.pool, 30), []);
    // Boundary: a day is dropped only once all of it is older than the retention.
    // With 1 day of retention, the day before yesterday expires at today 00:00 UTC, not a ms earlier.
    assert.deepEqual(await dropExpiredPartitions(db.pool, 1, TODAY - 1), []);
    assert.deepEqual(await dropExpiredPartitions(db.pool, 1, TODAY), [partitionName(TODAY - 2 * DAY_MS)]);
  });

  it('recreates a partition that was dropped behind its cache (retention on another node)', async () => {
    const day = TODAY - 5 * DAY_MS;
    await store.appendPositions(positions(day, 1, 1));
    await dropExpiredPartitions(db.pool, 1, day + 2 * DAY_MS); // not through `store`: its cache still says the day exists
    assert.equal((await listPartitions(db.pool)).some((p) => p.name === partitionName(day)), false);
    await store.appendPositions(positions(day, 2, 2));
    assert.equal(await count(db, partitionName(day)), 4);
  });

  it('with retentionDays, positions older than the retention are not written', async () => {
    const withRetention = new PgHistoryStore(db.pool, { retentionDays: 30 });
    await withRetention.appendPositions(positions(TODAY - 60 * DAY_MS, 2, 2));
    assert.equal((await listPartitions(db.pool)).some((p) => p.name === partitionName(TODAY - 60 * DAY_MS)), false);
  });

  it('writing the same event ids twice leaves one row each', async () => {
    const events: VehicleEvent[] = [];
    for (let i = 0; i < 1200; i++) {
      const ts = TODAY + i * 1000;
      events.push({
        id: eventId(`veh-${i % 10}`, i % 2 === 0 ? 'overspeed_start' : 'trip_start', ts),
        vehicleId: `veh-${i % 10}`,
        company: i % 5 === 0 ? null : 'co-1',
        type: i % 2 === 0 ? 'overspeed_start' : 'trip_start',
        ts,
        lat: 55,
        lon: 37,
        ...(i % 2 === 0 ? { data: { speed: 130, limit: 90 } } : {}),
      });
    }
    await store.appendEvents(events);
    await store.appendEvents(events);
    await store.appendEvents([events[0], events[0]]);
    assert.equal(await count(db, 'events'), 1200);
    const { rows } = await db.pool.query(`SELECT company_id, type, ts, data FROM events WHERE id = $1`, [events[0].id]);
    assert.deepEqual(rows, [{ company_id: null, type: 'overspeed_start', ts: new Date(TODAY), data: { speed: 130, limit: 90 } }]);
  });
  it('(#11) a replayed batch holding stored and new positions writes the new ones once, and later batches are written too', async () => {
    const before = await count(db, 'positions');
    const stored = positions(TODAY, 10, 50).slice(0, 20);
    const fresh = positions(TODAY, 3, 1).map((r) => ({ ...r, point: { ...r.point, ts: r.point.ts + 1 } }));
    await store.appendPositions([...stored, ...fresh]);
    assert.equal(await count(db, 'positions'), before + fresh.length);
    const later = positions(TODAY, 3, 1).map((r) => ({ ...r, point: { ...r.point, ts: r.point.ts + 2 } }));
    await store.appendPositions(later);
    await store.appendPositions(later);
    assert.equal(await count(db, 'positions'), before + fresh.length + later.length);
  });

  it('(#11) the binary COPY keeps every value exactly: non-ASCII ids, negative and extreme numbers, times before 2000, sub-second ts', async () => {
    const day = Date.UTC(1999, 11, 31);
    await ensurePartitions(db.pool, day, day);
    const point = { deviceId: 'dev-x', ts: day + 86_399_999, lat: -89.999999, lon: -179.123456789, speed: 0.5, course: 359.75, alt: -12.25, ignition: false, fuel: 0, odometer: 1234567.891, attrs: { 'ключ': 'значение ✓', n: -1.5, b: false } };
    await store.appendPositions([{ vehicleId: 'veh-ü-🚚', point }]);
    const { rows } = await db.pool.query(`SELECT * FROM positions WHERE vehicle_id = 'veh-ü-🚚'`);
    assert.equal(rows.length, 1);
    const r = rows[0];
    assert.equal(r.ts.getTime(), point.ts);
    assert.deepEqual([r.device_id, r.lat, r.lon, r.speed, r.course, r.alt, r.ignition, r.fuel, Number(r.odometer)], ['dev-x', point.lat, point.lon, 0.5, 359.75, -12.25, false, 0, point.odometer]);
    assert.deepEqual(r.attrs, point.attrs);
  });
});
