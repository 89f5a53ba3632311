import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { startTestNode } from '../support/engine.js';

describe('OsmAnd protocol (Traccar Client)', () => {
  let node: FleetlineNode;
  let admin: string;
  before(async () => {
    node = await startTestNode();
    admin = await node.auth.sign({ role: 'admin' });
  });
  after(async () => node.close());

  it('a GET with query parameters becomes a position (speed in knots → km/h)', async () => {
    const ts = Math.floor(Date.now() / 1000) - 10;
    const res = await fetch(`${node.url}/v1/osmand?id=da1&timestamp=${ts}&lat=52.52&lon=13.40&speed=10&bearing=90&altitude=34&batt=88`);
    assert.equal(res.status, 200);
    let v: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !v; i++) {
      const r = await fetch(`${node.url}/v1/vehicles/va1`, { headers: { authorization: `Bearer ${admin}` } });
      if (r.status === 200) v = (await r.json()) as Record<string, unknown>;
      else await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(v);
    assert.equal(v.lat, 52.52);
    assert.equal(v.ts, ts * 1000);
    assert.equal(v.speed, 18.5);
    assert.equal(v.course, 90);
  });

  it('a form POST works and bad coordinates are refused with a reason', async () => {
    const ok = await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `id=da2&lat=52.5&lon=13.3&timestamp=${Date.now()}` });
    assert.equal(ok.status, 200);
    const bad = await fetch(`${node.url}/v1/osmand?id=da2&lat=123&lon=13.3`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /BAD_LATITUDE/);
  });
});
