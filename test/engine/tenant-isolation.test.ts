import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { SignJWT } from 'jose';
import { adminHeaders, postJson, startTestNode, StreamClient } from '../support/engine.js';

const enc = (v: unknown) => encode(v);

describe('tenant isolation: a token for company A never yields a vehicle of company B', () => {
  let node: FleetlineNode;
  let tokenA: string;
  let admin: string;
  const now = Date.now();
  before(async () => {
    node = await startTestNode({ ACCEPT_UNBOUND_DEVICES: 'true' });
    tokenA = await node.auth.sign({ companies: ['A'] });
    admin = await node.auth.sign({ role: 'admin' });
    await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'da1', ts: now - 5000, lat: 52.5, lon: 13.4 },
      { deviceId: 'db1', ts: now - 5000, lat: 52.5, lon: 13.41 },
      { deviceId: 'unbound-1', ts: now - 5000, lat: 52.5, lon: 13.42 },
    ], await adminHeaders());
    for (let i = 0; i < 100 && node.index.size < 3; i++) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => node.close());

  const get = (path: string, token?: string) => fetch(`${node.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('HTTP list and get only show granted companies', async () => {
    const all = (await (await get('/v1/vehicles', tokenA)).json()) as { vehicles: { id: string; company: string }[] };
    assert.deepEqual(all.vehicles.map((v) => v.id), ['va1']);
    assert.equal((await get('/v1/vehicles?company=B', tokenA).then((r) => r.json()) as { count: number }).count, 0);
    assert.equal((await get('/v1/vehicles?ids=vb1,~dev/unbound-1', tokenA).then((r) => r.json()) as { count: number }).count, 0);
    assert.equal((await get('/v1/vehicles/vb1', tokenA)).status, 404);
    assert.equal((await get('/v1/vehicles/~dev%2Funbound-1', tokenA)).status, 404);
    assert.equal((await get('/v1/vehicles/~dev%2Funbound-1', admin)).status, 200);
    assert.equal((await get('/v1/vehicles/va1', tokenA)).status, 200);
  });

  it('HTTP reads need a valid token', async () => {
    assert.equal((await get('/v1/vehicles')).status, 401);
    assert.equal((await get('/v1/vehicles', 'not-a-jwt')).status, 401);
    const foreign = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-0123456789'));
    assert.equal((await get('/v1/vehicles', foreign)).status, 401);
  });

  it('unbound devices are visible to admin tokens only', async () => {
    const all = (await (await get('/v1/vehicles', admin)).json()) as { vehicles: { id: string }[] };
    assert.deepEqual(all.vehicles.map((v) => v.id).sort(), ['va1', 'vb1', '~dev/unbound-1']);
  });

  it('WebSocket snap and deltas never carry company B, whatever the subscription asks', async () => {
    const client = await StreamClient.connect(node.url, tokenA);
    client.send({ t: 'sub' }, enc);
    const snap = await client.next((f) => f.t === 'snap');
    assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id), ['va1']);
    // A replacement subscription sends the difference (#9): gone for what left, entries for what entered.
    client.send({ t: 'sub', companies: ['B'] }, enc);
    const gone = await client.next((f) => f.t === 'gone');
    assert.deepEqual(gone.ids, ['va1']);
    client.send({ t: 'sub', vehicles: ['vb1', '~dev/unbound-1', 'va1'] }, enc);
    const entered = await client.next((f) => f.t === 'd');
    assert.deepEqual((entered.u as { id: string }[]).map((v) => v.id), ['va1']);
    client.send({ t: 'sub', bbox: [-180, -90, 180, 90] }, enc);
    client.send({ t: 'ping' }, enc);
    await client.next((f) => f.t === 'pong');
    const from = client.frames.length;
    for (let i = 1; i <= 5; i++) {
      await postJson(`${node.url}/v1/telemetry`, [
        { deviceId: 'db1', ts: now - 5000 + i * 10, lat: 52.5 + i / 1000, lon: 13.41 },
        { deviceId: 'unbound-1', ts: now - 5000 + i * 10, lat: 52.5 + i / 1000, lon: 13.42 },
        { deviceId: 'da1', ts: now - 5000 + i * 10, lat: 52.5 + i / 1000, lon: 13.4 },
      ], await adminHeaders());
    }
    await client.next((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === 'va1' && u.lat === 52.505), 2000, from);
    await new Promise((r) => setTimeout(r, 100));
    const seen = new Set<string>();
    for (const f of client.frames) {
      for (const v of (f.vehicles ?? f.u ?? []) as { id: string }[]) seen.add(v.id);
      for (const e of (f.e ?? []) as { vehicleId: string }[]) seen.add(e.vehicleId);
    }
    assert.deepEqual([...seen], ['va1']);
    client.close();
  });

  it('a token with no grant is refused', async () => {
    const empty = await node.auth.sign({ companies: [] });
    const client = await StreamClient.connect(node.url, empty);
    assert.equal(await client.closed(), 4003);
  });
});
