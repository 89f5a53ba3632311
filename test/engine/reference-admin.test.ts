import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { seedReference } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode, testToken } from '../support/engine.js';

interface Answer { status: number; body: Record<string, unknown> | null }

async function call(node: FleetlineNode, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${node.url}${path}`, {
    method, headers: { ...(headers ?? await adminHeaders()), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) as Record<string, unknown> };
}

const code = (a: Answer) => (a.body?.error as { code?: string } | undefined)?.code;

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await cond(), what);
}

/** A 2 km circle around Berlin's centre. */
const berlin = { type: 'circle', center: [13.4, 52.5], radius: 2000 };

describe('#10 reference data through the admin API (embedded: the fleet.reference topic is the source of truth)', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ GEOFENCE_DWELL_S: '0' });
  });
  after(async () => node.close());

  it('#10 only an admin token may read or write reference data', async () => {
    assert.equal((await call(node, 'GET', '/v1/admin/companies', undefined, {})).status, 401);
    const reader = { authorization: `Bearer ${await testToken({ companies: ['A'] })}` };
    const refused = await call(node, 'PUT', '/v1/admin/companies/X', { name: 'X' }, reader);
    assert.equal(refused.status, 403);
    assert.equal(code(refused), 'FORBIDDEN');
    assert.equal((await call(node, 'GET', '/v1/admin/companies', undefined, reader)).status, 403);
  });

  it('#10 create, read, update, list and delete each kind; every change is a fleet.reference record', async () => {
    assert.equal((await call(node, 'PUT', '/v1/admin/companies/C', { name: 'Company C' })).status, 201);
    assert.deepEqual((await call(node, 'GET', '/v1/admin/companies/C')).body, { id: 'C', name: 'Company C', active: true });
    assert.equal((await call(node, 'PUT', '/v1/admin/companies/C', { name: 'Renamed C' })).status, 200);
    assert.equal((await call(node, 'GET', '/v1/admin/companies/C')).body?.name, 'Renamed C');
    assert.equal((await call(node, 'PUT', '/v1/admin/vehicles/vc1', { companyId: 'C', name: 'C one', speedLimit: 80 })).status, 201);
    assert.equal((await call(node, 'PUT', '/v1/admin/devices/dc1', { vehicleId: 'vc1' })).status, 201);
    assert.deepEqual((await call(node, 'GET', '/v1/admin/devices/dc1')).body, { deviceId: 'dc1', vehicleId: 'vc1' });
    assert.equal((await call(node, 'PUT', '/v1/admin/drivers/drv1', { companyId: 'C', name: 'Anna', uniqueId: 'rfid-1' })).status, 201);
    assert.equal((await call(node, 'PUT', '/v1/admin/groups/g1', { companyId: 'C', name: 'Vans', vehicleIds: ['vc1'] })).status, 201);
    assert.equal((await call(node, 'PUT', '/v1/admin/geofences/gf1', { companyId: 'C', name: 'Centre', shape: berlin, speedLimit: 30 })).status, 201);
    const companies = (await call(node, 'GET', '/v1/admin/companies')).body?.companies as { id: string }[];
    assert.deepEqual(companies.map((c) => c.id).sort(), ['A', 'B', 'C']);
    assert.deepEqual((await call(node, 'GET', '/v1/admin/groups')).body, { groups: [{ id: 'g1', companyId: 'C', name: 'Vans', vehicleIds: ['vc1'] }] });

    assert.equal((await call(node, 'DELETE', '/v1/admin/drivers/drv1')).status, 204);
    assert.equal((await call(node, 'GET', '/v1/admin/drivers/drv1')).status, 404);

    const keys: string[] = [];
    const consumer = await node.infrastructure.bus.consume({
      groupId: `test-reference-admin-${Date.now()}`, topic: Topics.fleetReference, fromBeginning: true,
      onBatch: async (b) => { for (const r of b.records) keys.push(`${r.key}${r.value === null ? ' (tombstone)' : ''}`); },
    });
    await until(() => keys.includes('driver:drv1 (tombstone)'), 'the deletion reached the topic');
    await consumer.stop();
    for (const key of ['company:C', 'vehicle:vc1', 'device:dc1', 'driver:drv1', 'group:g1', 'geofence:gf1']) assert.ok(keys.includes(key), key);
  });

  it('#10 a geofence created, edited and deleted through the API applies to the next point', async () => {
    const headers = await adminHeaders();
    const ts = Date.now() - 60_000;
    await call(node, 'PUT', '/v1/admin/companies/C', { name: 'Company C' });
    await call(node, 'PUT', '/v1/admin/vehicles/vc1', { companyId: 'C', speedLimit: 80 });
    await call(node, 'PUT', '/v1/admin/devices/dc1', { vehicleId: 'vc1' });
    await call(node, 'PUT', '/v1/admin/geofences/gf1', { companyId: 'C', name: 'Centre', shape: berlin, speedLimit: 30 });
    const point = async (i: number, lat: number) => {
      await postJson(`${node.url}/v1/telemetry`, { deviceId: 'dc1', ts: ts + i * 1000, lat, lon: 13.4, speed: 50 }, headers);
      await until(() => node.index.get('vc1')?.ts === ts + i * 1000, `point ${i} applied`);
      return node.index.get('vc1');
    };
    assert.deepEqual((await point(0, 52.5))?.geofences, ['gf1']);
    assert.equal((await call(node, 'PUT', '/v1/admin/geofences/gf1', { companyId: 'C', name: 'Moved', shape: { ...berlin, center: [13.0, 52.0] } })).status, 200);
    assert.equal((await point(1, 52.5))?.geofences, undefined, 'the moved geofence no longer holds the vehicle');
    assert.equal((await call(node, 'PUT', '/v1/admin/geofences/gf2', { companyId: 'C', name: 'Corridor', shape: { type: 'corridor', coordinates: [[13.3, 52.5], [13.5, 52.5]], width: 100 } })).status, 201);
    assert.deepEqual((await point(2, 52.5))?.geofences, ['gf2']);
    assert.equal((await call(node, 'DELETE', '/v1/admin/geofences/gf2')).status, 204);
    assert.equal((await point(3, 52.5))?.geofences, undefined);
  });

  it('#10 a vehicle type: through the API and fleet.reference into the view, changed without a restart', async () => {
    const headers = await adminHeaders();
    const ts = Date.now() - 60_000;
    await call(node, 'PUT', '/v1/admin/companies/T', { name: 'Typed' });
    assert.equal((await call(node, 'PUT', '/v1/admin/vehicles/vt1', { companyId: 'T', type: 'truck' })).status, 201);
    assert.equal((await call(node, 'GET', '/v1/admin/vehicles/vt1')).body?.type, 'truck');
    await call(node, 'PUT', '/v1/admin/devices/dt1', { vehicleId: 'vt1' });
    await postJson(`${node.url}/v1/telemetry`, { deviceId: 'dt1', ts, lat: 52.5, lon: 13.4 }, headers);
    await until(() => node.index.get('vt1')?.type === 'truck', 'the view carries the type');
    assert.equal((await call(node, 'PUT', '/v1/admin/vehicles/vt1', { companyId: 'T', type: 'bus' })).status, 200);
    await until(() => node.index.get('vt1')?.type === 'bus', 'the new type is in the view at once');
    assert.equal(code(await call(node, 'PUT', '/v1/admin/vehicles/vt2', { companyId: 'T', type: 'x'.repeat(33) })), 'INVALID_BODY');
  });

  it('#10 bad bodies and broken references answer with their codes', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['PUT', '/v1/admin/vehicles/v-x', { companyId: 'nope' }, 409, 'REFERENCE_CONFLICT'],
      ['PUT', '/v1/admin/devices/d-x', { vehicleId: 'nope' }, 409, 'REFERENCE_CONFLICT'],
      ['PUT', '/v1/admin/groups/g-x', { companyId: 'A', name: 'mixed', vehicleIds: ['vb1'] }, 409, 'REFERENCE_CONFLICT'],
      ['DELETE', '/v1/admin/companies/A', undefined, 409, 'REFERENCE_CONFLICT'],
      ['DELETE', '/v1/admin/vehicles/va1', undefined, 409, 'REFERENCE_CONFLICT'],
      ['DELETE', '/v1/admin/geofences/none', undefined, 404, 'NOT_FOUND'],
      ['PUT', '/v1/admin/companies/Y', '{"name":', 400, 'MALFORMED_BODY'],
      ['PUT', '/v1/admin/companies/Y', { name: 'Y', colour: 'red' }, 400, 'INVALID_BODY'],
      ['PUT', '/v1/admin/vehicles/v-y', { companyId: 'A', speedLimit: -5 }, 400, 'INVALID_BODY'],
      ['PUT', '/v1/admin/geofences/gf-y', { companyId: 'A', name: 'y', shape: { type: 'polygon', coordinates: [[[0, 0], [1, 1]]] } }, 400, 'INVALID_BODY'],
      ['PUT', '/v1/admin/geofences/gf-y', { companyId: 'A', name: 'y', shape: { type: 'circle', center: [200, 0], radius: 5 } }, 400, 'INVALID_BODY'],
      ['PUT', '/v1/admin/vehicles/~dev%2Fx', { companyId: 'A' }, 400, 'BAD_PATH'],
      ['PUT', '/v1/admin/devices/bad%20id', { vehicleId: 'va1' }, 400, 'BAD_PATH'],
    ];
    for (const [method, path, body, status, expected] of cases) {
      const a = await call(node, method, path, body);
      assert.equal(a.status, status, `${method} ${path}`);
      assert.equal(code(a), expected, `${method} ${path}`);
    }
    const collection = await call(node, 'PUT', '/v1/admin/vehicles', {});
    assert.equal(collection.status, 405);
    assert.equal(code(collection), 'METHOD_NOT_ALLOWED');
  });
});

describe('#10 reference data through the admin API with PostgreSQL as the source of truth', () => {
  let db: TestDatabase;
  let node: FleetlineNode;
  before(async () => {
    db = await createTestDatabase();
    await seedReference(db, [{ id: 'A' }], [{ id: 'va1', companyId: 'A', deviceId: 'da1' }]);
    node = await startTestNode({ DATABASE_URL: db.url, GEOFENCE_DWELL_S: '0' });
  });
  after(async () => {
    await node?.close();
    await db.drop();
  });

  it('#10 writes go to the back office tables and come back through LISTEN; nothing goes to fleet.reference', async () => {
    assert.equal((await call(node, 'PUT', '/v1/admin/companies/P', { name: 'Pg Co' })).status, 201, 'applied: the change came back through LISTEN');
    assert.equal((await call(node, 'PUT', '/v1/admin/vehicles/vp1', { companyId: 'P', plate: 'P-1', type: 'van' })).status, 201);
    assert.deepEqual((await db.pool.query('SELECT plate, type FROM vehicles WHERE id = $1', ['vp1'])).rows, [{ plate: 'P-1', type: 'van' }]);
    assert.equal((await call(node, 'GET', '/v1/admin/vehicles/vp1')).body?.type, 'van', 'read back from the table');
    assert.equal((await call(node, 'PUT', '/v1/admin/geofences/gp1', { companyId: 'P', name: 'Yard', shape: berlin, speedLimit: 25, dwellS: 5 })).status, 201);
    assert.equal((await call(node, 'PUT', '/v1/admin/drivers/dp1', { companyId: 'P', name: 'Pavel', uniqueId: 'card-9' })).status, 201);
    assert.equal((await call(node, 'PUT', '/v1/admin/groups/gr1', { companyId: 'P', name: 'All', vehicleIds: ['vp1'] })).status, 201);
    const row = await db.pool.query('SELECT shape, speed_limit, dwell_s FROM geofences WHERE id = $1', ['gp1']);
    assert.deepEqual(row.rows[0], { shape: berlin, speed_limit: 25, dwell_s: 5 });
    assert.deepEqual((await db.pool.query('SELECT vehicle_ids FROM vehicle_groups')).rows, [{ vehicle_ids: ['vp1'] }]);
    assert.deepEqual((await call(node, 'GET', '/v1/admin/geofences/gp1')).body, { id: 'gp1', companyId: 'P', name: 'Yard', shape: berlin, speedLimit: 25, dwellS: 5 });

    // A change the back office makes in the tables shows in the API the same way.
    await db.pool.query(`UPDATE drivers SET name = 'Pavel K.' WHERE id = 'dp1'`);
    await until(async () => (await call(node, 'GET', '/v1/admin/drivers/dp1')).body?.name === 'Pavel K.', 'the back office edit is seen');

    const taken = await call(node, 'PUT', '/v1/admin/drivers/dp2', { companyId: 'P', name: 'Other', uniqueId: 'card-9' });
    assert.equal(code(taken), 'REFERENCE_CONFLICT');
    assert.equal((await call(node, 'DELETE', '/v1/admin/groups/gr1')).status, 204);
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM vehicle_groups')).rows[0].n, 0);

    const keys: string[] = [];
    const consumer = await node.infrastructure.bus.consume({
      groupId: `test-reference-admin-pg-${Date.now()}`, topic: Topics.fleetReference, fromBeginning: true,
      onBatch: async (b) => { for (const r of b.records) keys.push(r.key ?? ''); },
    });
    await new Promise((r) => setTimeout(r, 300));
    await consumer.stop();
    assert.deepEqual(keys, [], 'one source of truth: PostgreSQL');
  });
});
