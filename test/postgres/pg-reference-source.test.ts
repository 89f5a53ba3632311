import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PgReferenceSource } from '../../adapters/postgres/pg-reference-source.js';
import { createMigratedDatabase, type TestDatabase } from './pg-test-db.js';
import type { ReferenceChange } from '../../actors/domain/reference-data.js';

describe('PgReferenceSource (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createMigratedDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('loads an empty fleet', async () => {
    assert.deepEqual(await new PgReferenceSource(db.pool).load(), { companies: [], vehicles: [], devices: [], geofences: [], drivers: [], groups: [] });
  });

  it('loads what was inserted', async () => {
    await db.pool.query(`INSERT INTO companies (id, name, active) VALUES ('co-1', 'Acme Logistics', true), ('co-2', 'Gone Ltd', false)`);
    await db.pool.query(`INSERT INTO vehicles (id, company_id, name, plate, speed_limit) VALUES
      ('veh-1', 'co-1', 'Truck 1', 'A001AA', 90), ('veh-2', 'co-1', NULL, NULL, NULL), ('veh-3', 'co-2', 'Van', 'B777BB', 72.5)`);
    await db.pool.query(`INSERT INTO device_bindings (device_id, vehicle_id) VALUES ('imei-1', 'veh-1'), ('imei-2', 'veh-2'), ('imei-3b', 'veh-3')`);
    await db.pool.query(`INSERT INTO drivers (id, company_id, name) VALUES ('drv-1', 'co-1', 'Ivan')`);
    await db.pool.query(`INSERT INTO geofences (id, company_id, name, polygon) VALUES ('gf-1', 'co-1', 'Depot', '[[37.6,55.7],[37.7,55.7],[37.7,55.8]]')`);

    const source = new PgReferenceSource(db.pool);
    assert.equal(source.kind, 'postgres');
    const fleet = await source.load();
    const sortById = <T extends { id: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(sortById(fleet.companies), [
      { id: 'co-1', name: 'Acme Logistics', active: true },
      { id: 'co-2', name: 'Gone Ltd', active: false },
    ]);
    assert.deepEqual(sortById(fleet.vehicles), [
      { id: 'veh-1', companyId: 'co-1', name: 'Truck 1', plate: 'A001AA', speedLimit: 90 },
      { id: 'veh-2', companyId: 'co-1' },
      { id: 'veh-3', companyId: 'co-2', name: 'Van', plate: 'B777BB', speedLimit: 72.5 },
    ]);
    assert.deepEqual([...fleet.devices].sort((a, b) => a.deviceId.localeCompare(b.deviceId)), [
      { deviceId: 'imei-1', vehicleId: 'veh-1' },
      { deviceId: 'imei-2', vehicleId: 'veh-2' },
      { deviceId: 'imei-3b', vehicleId: 'veh-3' },
    ]);
    // A polygon written before migration 8 (a bare ring in the polygon column) still loads.
    assert.deepEqual(fleet.geofences, [{ id: 'gf-1', companyId: 'co-1', name: 'Depot', shape: { type: 'polygon', coordinates: [[[37.6, 55.7], [37.7, 55.7], [37.7, 55.8]]] } }]);
    assert.deepEqual(fleet.drivers, [{ id: 'drv-1', companyId: 'co-1', name: 'Ivan' }]);
  });

  it('#10 loads and follows geofences (every shape, speed limit, dwell), drivers and vehicle groups', async () => {
    const source = new PgReferenceSource(db.pool);
    const changes: ReferenceChange[] = [];
    const stop = await source.follow((c) => changes.push(c));
    try {
      await db.pool.query(`INSERT INTO geofences (id, company_id, name, shape, speed_limit, dwell_s) VALUES
        ('gf-c', 'co-1', 'Yard', '{"type":"circle","center":[37.6,55.7],"radius":150}', 20, 0)`);
      await db.pool.query(`INSERT INTO geofences (id, company_id, name, shape) VALUES
        ('gf-r', 'co-1', 'Ring road', '{"type":"corridor","coordinates":[[37.6,55.7],[37.7,55.75]],"width":60}')`);
      await db.pool.query(`INSERT INTO drivers (id, company_id, name, unique_id) VALUES ('drv-2', 'co-1', 'Olga', 'rfid-77')`);
      await db.pool.query(`INSERT INTO vehicle_groups (id, company_id, name, vehicle_ids) VALUES ('grp-1', 'co-1', 'Night shift', '{veh-1,veh-2}')`);
      await db.pool.query(`DELETE FROM geofences WHERE id = 'gf-r'`);
      for (let i = 0; i < 200 && changes.length < 5; i++) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(changes.map((c) => `${c.kind}:${c.id}`), ['geofence:gf-c', 'geofence:gf-r', 'driver:drv-2', 'group:grp-1', 'geofence:gf-r']);
      assert.deepEqual(changes[0].value, { id: 'gf-c', companyId: 'co-1', name: 'Yard', shape: { type: 'circle', center: [37.6, 55.7], radius: 150 }, speedLimit: 20, dwellS: 0 });
      assert.deepEqual(changes[2].value, { id: 'drv-2', companyId: 'co-1', name: 'Olga', uniqueId: 'rfid-77' });
      assert.deepEqual(changes[3].value, { id: 'grp-1', companyId: 'co-1', name: 'Night shift', vehicleIds: ['veh-1', 'veh-2'] });
      assert.equal(changes[4].value, null);
    } finally {
      await stop();
    }
    const fleet = await source.load();
    assert.deepEqual(fleet.geofences?.map((g) => g.id).sort(), ['gf-1', 'gf-c']);
    assert.deepEqual(fleet.groups?.map((g) => g.id), ['grp-1']);
  });

  it('follow() stops delivering once its stopper resolved', async () => {
    const changes: unknown[] = [];
    const stop = await new PgReferenceSource(db.pool).follow((c) => changes.push(c));
    await stop();
    await db.pool.query(`UPDATE companies SET active = false WHERE id = 'co-1'`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(changes, []);
  });

  it('#7.6c follow() delivers every committed change of companies, vehicles and device bindings, in order', async () => {
    const source = new PgReferenceSource(db.pool);
    const changes: ReferenceChange[] = [];
    const stop = await source.follow((c) => changes.push(c));
    try {
      await db.pool.query(`INSERT INTO companies (id, name, active) VALUES ('co-f', 'Follow Co', true)`);
      await db.pool.query(`INSERT INTO vehicles (id, company_id, name) VALUES ('veh-f', 'co-f', 'First')`);
      await db.pool.query(`INSERT INTO device_bindings (device_id, vehicle_id) VALUES ('imei-f', 'veh-f')`);
      await db.pool.query(`UPDATE vehicles SET name = 'Renamed', speed_limit = 80 WHERE id = 'veh-f'`);
      await db.pool.query(`UPDATE companies SET active = false WHERE id = 'co-f'`);
      await db.pool.query(`DELETE FROM device_bindings WHERE device_id = 'imei-f'`);
      for (let i = 0; i < 200 && changes.length < 6; i++) await new Promise((r) => setTimeout(r, 25));
      // Each change is the row as re-read after its notification: the order of the keys is the
      // commit order, and the last value of each key is the row's final state.
      assert.deepEqual(changes.map((c) => `${c.kind}:${c.id}`), ['company:co-f', 'vehicle:veh-f', 'device:imei-f', 'vehicle:veh-f', 'company:co-f', 'device:imei-f']);
      const last = new Map(changes.map((c) => [`${c.kind}:${c.id}`, c.value]));
      assert.deepEqual(last.get('vehicle:veh-f'), { id: 'veh-f', companyId: 'co-f', name: 'Renamed', speedLimit: 80 });
      assert.deepEqual(last.get('company:co-f'), { id: 'co-f', name: 'Follow Co', active: false });
      assert.equal(last.get('device:imei-f'), null, 'a deleted binding arrives as a deletion');
    } finally {
      await stop();
    }
  });
});
