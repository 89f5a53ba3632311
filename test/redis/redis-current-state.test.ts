import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisCurrentStateStore } from '../../adapters/redis/redis-current-state.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { createTestRedis, type TestRedis } from './redis-test-prefix.js';

function view(id: string, lon: number, lat: number, extra: Partial<VehicleView> = {}): VehicleView {
  return { id, company: 'co-1', lat, lon, ts: 1_700_000_000_000, speed: 42.5, course: 90, moving: true, ...extra };
}

describe('RedisCurrentStateStore (real Redis)', () => {
  let t: TestRedis;
  let store: RedisCurrentStateStore;

  before(async () => {
    t = await createTestRedis();
    store = new RedisCurrentStateStore(t.redis, { prefix: t.prefix, chunkSize: 1000 });
  });
  after(async () => {
    await store.close();
    await t.cleanup();
  });

  it('writes one hash per vehicle plus the GEO index, and reads a view back', async () => {
    const v = view('moscow-1', 37.6173, 55.7558, { name: 'Truck 1', plate: 'A001AA', ignition: true, fuel: 31.5, odometer: 12000.25, alt: 150 });
    await store.write([v, view('unbound', 37.62, 55.76, { company: null, moving: false, speed: 0 })]);
    assert.deepEqual(await store.get('moscow-1'), v);
    const unbound = await store.get('unbound');
    assert.equal(unbound?.company, null);
    assert.equal(unbound?.moving, false);
    assert.equal(await t.redis.hget(`${t.prefix}v:moscow-1`, 'plate'), 'A001AA');
    assert.equal(await t.redis.hget(`${t.prefix}v:moscow-1`, 'ignition'), 'true');
    assert.equal(await t.redis.zscore(`${t.prefix}geo`, 'moscow-1') !== null, true);
    assert.equal(await store.get('nope'), undefined);
  });

  it('#10 device attributes are one JSON field of the hash and read back as the map', async () => {
    const v = view('attrs-1', 13.4, 52.5, { attrs: { batteryLevel: 80, driverUniqueId: 'D-1', ignition: true } });
    await store.write([v]);
    assert.deepEqual(await store.get('attrs-1'), v);
    assert.equal(await t.redis.hget(`${t.prefix}v:attrs-1`, 'attrs'), '{"batteryLevel":80,"driverUniqueId":"D-1","ignition":true}');
    await store.write([view('attrs-1', 13.4, 52.5)]);
    assert.equal(await t.redis.hget(`${t.prefix}v:attrs-1`, 'attrs'), null);
  });

  it('an update replaces the view, dropping fields the new view no longer has', async () => {
    await store.write([view('moscow-1', 37.7, 55.8, { speed: 0, moving: false })]);
    const got = await store.get('moscow-1');
    assert.equal(got?.name, undefined);
    assert.equal(got?.fuel, undefined);
    assert.equal(got?.lon, 37.7);
    assert.equal(got?.moving, false);
  });

  it('GEOSEARCH finds the vehicles inside a box and none outside', async () => {
    const views: VehicleView[] = [];
    // 2500 vehicles on a grid over Europe (one write call, three pipelines of 1000).
    for (let i = 0; i < 2500; i++) views.push(view(`grid-${i}`, -10 + (i % 50) * 0.8, 36 + Math.floor(i / 50) * 0.5));
    await store.write(views);
    const box = [10, 45, 15, 50] as const;
    const expected = views.filter((v) => v.lon >= 10 && v.lon <= 15 && v.lat >= 45 && v.lat <= 50).map((v) => v.id).sort();
    assert.ok(expected.length > 20);

    // Plain GEOSEARCH, as any other reader of the index would do it.
    const raw = (await t.redis.call('GEOSEARCH', `${t.prefix}geo`, 'FROMLONLAT', 12.5, 47.5, 'BYBOX', 100, 100, 'km', 'ASC')) as string[];
    assert.ok(raw.length > 0);
    for (const id of raw) assert.ok(id.startsWith('grid-'));

    const found = (await store.searchBox(box)).filter((id) => id.startsWith('grid-')).sort();
    assert.deepEqual(found, expected);
    assert.deepEqual(await store.searchBox([100, -10, 110, 0]), []);
  });

  it('finds vehicles in a box crossing the antimeridian', async () => {
    await store.write([view('east', 179.5, -17), view('west', -179.5, -17), view('far', 170, -17)]);
    const found = (await store.searchBox([179, -18, -179, -16])).sort();
    assert.deepEqual(found, ['east', 'west']);
  });

  it('clamps latitudes Redis GEO cannot index but keeps the exact value in the hash', async () => {
    await store.write([view('polar', 10, 89.5)]);
    assert.equal((await store.get('polar'))?.lat, 89.5);
  });

  it('remove deletes the hash and the GEO member', async () => {
    await store.remove(['moscow-1', 'grid-0', 'grid-1']);
    assert.equal(await store.get('moscow-1'), undefined);
    assert.equal(await t.redis.exists(`${t.prefix}v:grid-0`), 0);
    assert.equal(await t.redis.zscore(`${t.prefix}geo`, 'grid-1'), null);
    assert.notEqual(await store.get('grid-2'), undefined);
    const near = (await t.redis.call('GEOSEARCH', `${t.prefix}geo`, 'FROMLONLAT', 37.7, 55.8, 'BYRADIUS', 1, 'km')) as string[];
    assert.deepEqual(near, []);
  });
});
