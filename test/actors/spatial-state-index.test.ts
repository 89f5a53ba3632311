import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';

const view = (id: string, lat: number, lon: number, company: string | null = 'A'): VehicleView => ({ id, company, lat, lon, ts: 1, speed: 0, moving: false });

describe('spatial state index', () => {
  it('bbox queries follow moving vehicles exactly, small moves and large', () => {
    const index = new SpatialStateIndex();
    index.upsert(view('v1', 52.5, 13.4), true);
    const box = [13.39, 52.49, 13.41, 52.51] as const;
    assert.deepEqual(index.query({ grant: null, bbox: box }).map((v) => v.id), ['v1']);
    // A small move inside the tree slack but out of the query box must leave the answer.
    index.upsert(view('v1', 52.5, 13.4105), true);
    assert.deepEqual(index.query({ grant: null, bbox: box }), []);
    index.upsert(view('v1', 48.1, 11.5), true);
    assert.deepEqual(index.query({ grant: null, bbox: box }), []);
    assert.deepEqual(index.query({ grant: null, bbox: [11, 48, 12, 49] }).map((v) => v.id), ['v1']);
  });

  it('#11 finds a vehicle on the very edge of a query box (the tree counts in whole microdegrees, rounded outwards)', () => {
    const index = new SpatialStateIndex();
    const edge = view('v1', 52.123456789, 13.987654321);
    index.upsertMany([edge, view('v2', -33.9, 151.2), view('v3', 0.0000004, -179.9999996)]);
    assert.deepEqual(index.query({ grant: null, bbox: [edge.lon, edge.lat, edge.lon, edge.lat] }).map((v) => v.id), ['v1']);
    assert.deepEqual(index.query({ grant: null, bbox: [13.9876544, 52.1234568, 13.9876545, 52.1234569] }), [], 'a box a tenth of a microdegree beside it misses it');
    assert.deepEqual(index.query({ grant: null, bbox: [179.9, 0, -179.9999996, 0.0000004] }).map((v) => v.id), ['v3']);
    index.upsert(view('v1', 52.1234571, 13.9876547), true);
    assert.deepEqual(index.query({ grant: null, bbox: [13.9876547, 52.1234571, 13.9876547, 52.1234571] }).map((v) => v.id), ['v1'], 'moved within its box');
  });

  it('a box across the antimeridian whose edges nearly meet returns each vehicle once', () => {
    const index = new SpatialStateIndex();
    index.upsertMany([view('v0', 0, 0), view('v1', 10, 179.9995), view('v2', -10, -179.9995)]);
    // West edge just east of 0, east edge at 0: the whole world but a sliver, split in two searches
    // whose slack boxes both reach v0.
    const ids = index.query({ grant: null, bbox: [0.001, -90, 0, 90] }).map((v) => v.id).sort();
    assert.deepEqual(ids, ['v0', 'v1', 'v2']);
    assert.equal(index.query({ grant: null, bbox: [0.001, -90, 0, 90], limit: 2 }).length, 2, 'a repeat never uses up the limit');
  });

  it('matches a linear scan over random data, with grants and the antimeridian', () => {
    const index = new SpatialStateIndex();
    const views = new Map<string, VehicleView>();
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2000; i++) {
        const v = view(`v${i}`, rnd() * 170 - 85, rnd() * 360 - 180, i % 3 === 0 ? null : i % 2 ? 'A' : 'B');
        views.set(v.id, v);
        index.upsert(v, true);
      }
      for (let q = 0; q < 20; q++) {
        const w = rnd() * 360 - 180, e = rnd() * 360 - 180, s = rnd() * 100 - 60, n = s + rnd() * 40;
        const grant = q % 2 ? new Set(['A']) : null;
        const got = index.query({ grant, bbox: [w, s, e, n] }).map((v) => v.id).sort();
        const want = [...views.values()].filter((v) => (grant === null || (v.company !== null && grant.has(v.company))) &&
          v.lat >= s && v.lat <= n && (w <= e ? v.lon >= w && v.lon <= e : v.lon >= w || v.lon <= e)).map((v) => v.id).sort();
        assert.deepEqual(got, want);
      }
    }
    // Bulk loading answers exactly like one upsert at a time.
    const bulk = new SpatialStateIndex();
    bulk.upsertMany([...views.values()]);
    for (const box of [[13, 50, 14, 53], [-10, -10, 10, 10], [170, -50, -170, 50]] as const) {
      assert.deepEqual(bulk.query({ grant: null, bbox: box }).map((v) => v.id).sort(), index.query({ grant: null, bbox: box }).map((v) => v.id).sort());
    }
    index.remove('v1');
    assert.equal(index.get('v1'), undefined);
    assert.equal(index.size, 1999);
  });

  it('removeMany takes vehicles out exactly, a few at a time or most of them at once', () => {
    const index = new SpatialStateIndex();
    const all = Array.from({ length: 1000 }, (_, i) => view(`v${i}`, 50 + (i % 40) / 10, 10 + Math.floor(i / 40) / 10));
    index.upsertMany(all);
    const everywhere = [-180, -90, 180, 90] as const;
    const ids = () => index.query({ grant: null, bbox: everywhere }).map((v) => v.id).sort();
    const keep = new Set(all.map((v) => v.id));
    // 10%: one tree removal each.
    const few = all.filter((_, i) => i % 10 === 0).map((v) => v.id);
    index.removeMany([...few, 'not-there']);
    for (const id of few) keep.delete(id);
    assert.deepEqual(ids(), [...keep].sort());
    // 80% of the rest: the tree is rebuilt from what stays.
    const most = [...keep].filter((_, i) => i % 5 !== 0);
    index.removeMany(most);
    for (const id of most) keep.delete(id);
    assert.deepEqual(ids(), [...keep].sort());
    assert.equal(index.size, keep.size);
    assert.equal(index.get(most[0]), undefined);
    // What stays still moves and answers box queries.
    const [first] = keep;
    index.upsert(view(first, -33.9, 151.2), true);
    assert.deepEqual(index.query({ grant: null, bbox: [151, -34, 152, -33] }).map((v) => v.id), [first]);
    index.removeMany(keep);
    assert.equal(index.size, 0);
    assert.deepEqual(ids(), []);
    index.upsertMany(all);
    index.clear();
    assert.equal(index.size, 0);
    assert.deepEqual(ids(), []);
    assert.equal(index.get('v1'), undefined);
  });
});
