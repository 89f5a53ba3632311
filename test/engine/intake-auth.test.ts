import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient, testToken } from '../support/engine.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function vehicle(node: FleetlineNode, id: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent(id)}`, { headers: await adminHeaders() });
  return { status: res.status, body: res.status === 200 ? (await res.json()) as Record<string, unknown> : (await res.arrayBuffer(), null) };
}

/** Waits until `pred` holds for the admin view of `id` (bounded). */
async function until(node: FleetlineNode, id: string, pred: (v: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const v = await vehicle(node, id);
    if (v.body && pred(v.body)) return v.body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`vehicle ${id} never matched`);
}

async function rejectedMetric(node: FleetlineNode, reason: string, source: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`fleetline_points_rejected_total\\{reason="${reason}",source="${source}"[^}]*\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe('#7 HTTP intake needs a credential scoped to companies', () => {
  let node: FleetlineNode;
  const now = Date.now();
  before(async () => {
    node = await startTestNode();
  });
  after(async () => node.close());

  it('#7 POST /v1/telemetry without a credential → 401 UNAUTHORIZED, and nothing moves', async () => {
    const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 9000, lat: 1, lon: 1 });
    assert.equal(res.status, 401);
    assert.equal((res.body.error as { code: string }).code, 'UNAUTHORIZED');
    const bad = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 9000, lat: 1, lon: 1 }, bearer('not-a-jwt'));
    assert.equal(bad.status, 401);
    assert.equal((await vehicle(node, 'va1')).status, 404);
  });

  it('#7 a map-client token (companies, no role) is read only → 403 FORBIDDEN', async () => {
    const mapClient = await testToken({ companies: ['A'] });
    const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 9000, lat: 1, lon: 1 }, bearer(mapClient));
    assert.equal(res.status, 403);
    assert.equal((res.body.error as { code: string }).code, 'FORBIDDEN');
    assert.equal((await vehicle(node, 'va1')).status, 404);
  });

  it("#7 an ingest token for company A moves A's devices, and cannot move company B's (rejected per record, counted, vb1 unchanged)", async () => {
    const admin = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'db1', ts: now - 8000, lat: 48.1, lon: 11.5 }, await adminHeaders());
    assert.deepEqual(admin.body, { accepted: 1, rejected: [] }, 'an admin credential moves any device');
    await until(node, 'vb1', (v) => v.lat === 48.1);

    const ingestA = await testToken({ role: 'ingest', companies: ['A'] });
    const before = await rejectedMetric(node, 'FORBIDDEN_DEVICE', 'http');
    const res = await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'db1', ts: now - 7000, lat: 10, lon: 10 },
      { deviceId: 'da1', ts: now - 7000, lat: 52.5, lon: 13.4 },
      { deviceId: 'not-registered', ts: now - 7000, lat: 10, lon: 10 },
    ], bearer(ingestA));
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { accepted: 1, rejected: [{ index: 0, reason: 'FORBIDDEN_DEVICE' }, { index: 2, reason: 'FORBIDDEN_DEVICE' }] });
    assert.equal(await rejectedMetric(node, 'FORBIDDEN_DEVICE', 'http'), before + 2);
    await until(node, 'va1', (v) => v.lat === 52.5);
    const vb1 = await vehicle(node, 'vb1');
    assert.equal(vb1.body?.lat, 48.1, "company B's vehicle is unchanged");
    assert.equal(vb1.body?.ts, now - 8000);
  });

  it('#7 an ingest credential cannot read or stream', async () => {
    const ingestA = await testToken({ role: 'ingest', companies: ['A'] });
    const res = await fetch(`${node.url}/v1/vehicles`, { headers: bearer(ingestA) });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    const client = await StreamClient.connect(node.url, ingestA);
    assert.equal(await client.closed(), 4003);
  });

  it('#7 outside demo mode an unbound device is rejected (UNKNOWN_DEVICE), even for an admin', async () => {
    const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'stranger-1', ts: now - 6000, lat: 1, lon: 1 }, await adminHeaders());
    assert.deepEqual(res.body, { accepted: 0, rejected: [{ index: 0, reason: 'UNKNOWN_DEVICE' }] });
    assert.equal((await vehicle(node, '~dev/stranger-1')).status, 404);
  });

  it('#7 OsmAnd (GET and POST): an unregistered device id is rejected, a registered one is applied', async () => {
    const ts = Math.floor(now / 1000) - 5;
    const unknown = await fetch(`${node.url}/v1/osmand?id=stranger-2&timestamp=${ts}&lat=1&lon=1`);
    assert.equal(unknown.status, 403);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'UNKNOWN_DEVICE');
    const unknownPost = await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `id=stranger-2&timestamp=${ts}&lat=1&lon=1` });
    assert.equal(unknownPost.status, 403);
    await unknownPost.arrayBuffer();
    assert.equal((await vehicle(node, '~dev/stranger-2')).status, 404);

    const known = await fetch(`${node.url}/v1/osmand?id=da2&timestamp=${ts}&lat=52.45&lon=13.3`);
    assert.equal(known.status, 200);
    await known.arrayBuffer();
    await until(node, 'va2', (v) => v.lat === 52.45);
    const knownPost = await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `id=da2&timestamp=${ts + 1}&lat=52.4503&lon=13.3&speed=50` });
    assert.equal(knownPost.status, 200);
    await knownPost.arrayBuffer();
    await until(node, 'va2', (v) => v.lat === 52.4503);
  });
});

describe('#7 ACCEPT_UNBOUND_DEVICES=true: unbound devices on every intake path, in a bounded pool', () => {
  let node: FleetlineNode;
  const now = Date.now();
  before(async () => {
    node = await startTestNode({ ACCEPT_UNBOUND_DEVICES: 'true', UNBOUND_DEVICE_LIMIT: '3', TELEMETRY_PARTITIONS: '1' });
  });
  after(async () => node.close());

  it('#7 HTTP (admin), OsmAnd and the log admit unbound devices up to UNBOUND_DEVICE_LIMIT; the rest are rejected and counted', async () => {
    const http = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'u-1', ts: now - 5000, lat: 1, lon: 1 }, await adminHeaders());
    assert.deepEqual(http.body, { accepted: 1, rejected: [] });
    const ingest = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'u-9', ts: now - 5000, lat: 1, lon: 1 }, bearer(await testToken({ role: 'ingest', companies: ['A'] })));
    assert.deepEqual(ingest.body, { accepted: 0, rejected: [{ index: 0, reason: 'FORBIDDEN_DEVICE' }] }, 'an ingest credential never moves an unbound device');
    const osmand = await fetch(`${node.url}/v1/osmand?id=u-2&timestamp=${Math.floor(now / 1000) - 5}&lat=2&lon=2`);
    assert.equal(osmand.status, 200);
    await osmand.arrayBuffer();
    // The log (Kafka in production) is trusted: records go straight to routing.
    await node.infrastructure.bus.publish(Topics.telemetryRaw, [3, 4, 5, 6, 7].map((n) => ({
      key: `u-${n}`, value: encodeMsgpack({ deviceId: `u-${n}`, ts: now - 5000, lat: n, lon: n }),
    })));
    for (let i = 0; i < 200; i++) {
      if ((await rejectedMetric(node, 'UNBOUND_DEVICE_LIMIT', 'log')) >= 4) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(await rejectedMetric(node, 'UNBOUND_DEVICE_LIMIT', 'log'), 4);
    const list = (await (await fetch(`${node.url}/v1/vehicles`, { headers: await adminHeaders() })).json()) as { vehicles: { id: string; company: unknown }[] };
    assert.deepEqual(list.vehicles.map((v) => v.id).sort(), ['~dev/u-1', '~dev/u-2', '~dev/u-3']);
    assert.ok(list.vehicles.every((v) => v.company === null));
    // A device already in the pool keeps reporting.
    const again = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'u-1', ts: now - 4000, lat: 1.0003, lon: 1, speed: 90 }, await adminHeaders());
    assert.deepEqual(again.body, { accepted: 1, rejected: [] });
    await until(node, '~dev/u-1', (v) => v.lat === 1.0003);
    assert.equal(node.supervisor.actors, 3);
  });
});
