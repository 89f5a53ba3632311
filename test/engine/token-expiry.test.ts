import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { SignJWT } from 'jose';
import { CloseCodes } from '../../actors/domain/errors.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient, TEST_SECRET, testToken } from '../support/engine.js';

const key = new TextEncoder().encode(TEST_SECRET);
const read = (node: FleetlineNode, token: string) => fetch(`${node.url}/v1/vehicles`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => {
  await r.arrayBuffer();
  return r.status;
});

describe('#10 tokens expire', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode();
    const now = Date.now();
    await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'da1', ts: now - 5000, lat: 52.5, lon: 13.4 },
      { deviceId: 'db1', ts: now - 5000, lat: 52.5, lon: 13.41 },
    ], await adminHeaders());
    for (let i = 0; i < 200 && node.index.size < 2; i++) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => node.close());

  it('#10 a token without exp is refused: HTTP 401, stream closed with 4003', async () => {
    const forever = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(key);
    assert.equal(await read(node, forever), 401);
    const post = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: Date.now() - 1000, lat: 1, lon: 1 }, { authorization: `Bearer ${forever}` });
    assert.equal(post.status, 401);
    const client = await StreamClient.connect(node.url, forever);
    assert.equal(await client.closed(), CloseCodes.BAD_TOKEN);
    assert.equal(client.frames.find((f) => f.t === 'err')?.code, 'BAD_TOKEN');
    // And through an auth frame.
    const late = await StreamClient.connect(node.url);
    late.send({ t: 'auth', token: forever }, encode);
    assert.equal(await late.closed(), CloseCodes.BAD_TOKEN);
  });

  it('#10 a token whose lifetime exceeds JWT_MAX_LIFETIME_S (default 24 h) is refused', async () => {
    assert.equal(await read(node, await testToken({ role: 'admin' }, '25h')), 401);
    const backdated = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 30 * 3600).setExpirationTime('1h').sign(key);
    assert.equal(await read(node, backdated), 401, 'exp - iat counts, not only exp - now');
    assert.equal(await read(node, await testToken({ role: 'admin' }, '23h')), 200);
  });

  it('#10 a stream ends with 4401 TOKEN_EXPIRED when its token expires', async () => {
    const client = await StreamClient.connect(node.url, await testToken({ companies: ['A'] }, '2s'));
    const ready = await client.next((f) => f.t === 'ready');
    assert.equal(typeof ready.expiresAt, 'number');
    client.send({ t: 'sub' }, encode);
    await client.next((f) => f.t === 'snap');
    assert.equal(await client.closed(15_000), CloseCodes.TOKEN_EXPIRED);
    assert.equal(client.frames.find((f) => f.t === 'err')?.code, 'TOKEN_EXPIRED');
  });

  it('#10 an auth frame with a fresh token before expiry keeps the stream open', async () => {
    const client = await StreamClient.connect(node.url, await testToken({ companies: ['A'] }, '2s'));
    const first = await client.next((f) => f.t === 'ready');
    client.send({ t: 'auth', token: await testToken({ companies: ['A'] }, '1h') }, encode);
    const renewed = await client.next((f) => f.t === 'ready' && f !== first);
    assert.ok((renewed.expiresAt as number) > (first.expiresAt as number) + 3_000_000);
    // Past the first token's expiry (exp has one-second resolution: at most 2 s after it was issued).
    await new Promise((r) => setTimeout(r, 3500));
    const from = client.frames.length;
    client.send({ t: 'ping' }, encode);
    await client.next((f) => f.t === 'pong', 5000, from);
    assert.equal(client.closeCode, null);
    client.close();
  });

  it('#10 a fresh token may narrow the grant (gone follows) but never widen it', async () => {
    const client = await StreamClient.connect(node.url, await testToken({ companies: ['A', 'B'] }, '1h'));
    await client.next((f) => f.t === 'ready');
    client.send({ t: 'sub' }, encode);
    const snap = await client.next((f) => f.t === 'snap');
    assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id).sort(), ['va1', 'vb1']);

    client.send({ t: 'auth', token: await testToken({ role: 'admin' }, '1h') }, encode);
    const refused = await client.next((f) => f.t === 'err');
    assert.equal(refused.code, 'FORBIDDEN');

    client.send({ t: 'auth', token: await testToken({ companies: ['A'] }, '1h') }, encode);
    const narrowed = await client.next((f) => f.t === 'ready' && Array.isArray(f.companies) && (f.companies as string[]).length === 1);
    assert.deepEqual(narrowed.companies, ['A']);
    const gone = await client.next((f) => f.t === 'gone');
    assert.deepEqual(gone.ids, ['vb1']);
    const from = client.frames.length;
    await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'db1', ts: Date.now() - 1000, lat: 52.6, lon: 13.41 },
      { deviceId: 'da1', ts: Date.now() - 1000, lat: 52.6, lon: 13.4 },
    ], await adminHeaders());
    await client.next((f) => f.t === 'd' && (f.u as { id: string }[]).some((u) => u.id === 'va1'), 5000, from);
    await new Promise((r) => setTimeout(r, 100));
    for (const f of client.frames.slice(from)) for (const u of (f.u ?? []) as { id: string }[]) assert.notEqual(u.id, 'vb1');
    assert.equal(client.closeCode, null);
    client.close();
  });
});

describe('#10 JWT_ISSUER, JWT_AUDIENCE and JWT_MAX_LIFETIME_S', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'fleetline', JWT_MAX_LIFETIME_S: '3600' });
  });
  after(async () => node.close());

  it('#10 iss and aud are checked when configured, and the configured maximum lifetime holds', async () => {
    const sign = (claims: Record<string, unknown>, iss: string | null, aud: string | null, exp = '30m') => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp);
      if (iss) jwt.setIssuer(iss);
      if (aud) jwt.setAudience(aud);
      return jwt.sign(key);
    };
    assert.equal(await read(node, await sign({ role: 'admin' }, 'https://issuer.example', 'fleetline')), 200);
    assert.equal(await read(node, await sign({ role: 'admin' }, null, 'fleetline')), 401);
    assert.equal(await read(node, await sign({ role: 'admin' }, 'https://issuer.example', null)), 401);
    assert.equal(await read(node, await sign({ role: 'admin' }, 'https://other.example', 'fleetline')), 401);
    assert.equal(await read(node, await sign({ role: 'admin' }, 'https://issuer.example', 'fleetline', '2h')), 401);
    assert.equal(await read(node, await node.auth.sign({ role: 'admin' })), 200, "the node's own tokens carry iss and aud, within the maximum");
  });
});
