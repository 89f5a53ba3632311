import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient } from '../support/engine.js';

const enc = (v: unknown) => encode(v);

for (const transport of ['uws', 'ws'] as const) {
  describe(`bad input never crashes the node (${transport})`, () => {
    let node: FleetlineNode;
    let admin: string;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, MAX_BODY_BYTES: '65536', MAX_BATCH_RECORDS: '100', WS_MAX_FRAMES_PER_SEC: '20', WS_AUTH_TIMEOUT_MS: '300' });
      admin = await node.auth.sign({ role: 'admin' });
    });
    after(async () => node.close());

    const post = async (body: BodyInit, type: string) => fetch(`${node.url}/v1/telemetry`, { method: 'POST', headers: { 'content-type': type, ...(await adminHeaders()) }, body });

    it('malformed JSON → 400 MALFORMED_BODY', async () => {
      const res = await post('{"deviceId": ', 'application/json');
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MALFORMED_BODY');
    });

    it('malformed MessagePack → 400 MALFORMED_BODY', async () => {
      const res = await post(new Uint8Array([0x92, 0xdc, 0xff]), 'application/msgpack');
      assert.equal(res.status, 400);
    });

    it('unknown content type → 415', async () => {
      assert.equal((await post('x', 'text/csv')).status, 415);
    });

    it('huge body → 413 and too many records → 413', async () => {
      const res = await post(JSON.stringify({ pad: 'x'.repeat(100_000) }), 'application/json');
      assert.equal(res.status, 413);
      const many = Array.from({ length: 101 }, () => ({ deviceId: 'x', ts: Date.now(), lat: 0, lon: 0 }));
      const r2 = await postJson(`${node.url}/v1/telemetry`, many, await adminHeaders());
      assert.equal(r2.status, 413);
      assert.equal((r2.body.error as { code: string }).code, 'TOO_MANY_RECORDS');
    });

    it('a bad record never rejects the good ones beside it (JSON and MessagePack)', async () => {
      const now = Date.now();
      const batch = [
        { deviceId: 'da1', ts: now - 100, lat: 52.5, lon: 13.4 },
        { deviceId: 'da1', ts: now - 50, lat: 95, lon: 13.4 },
        'garbage',
        { deviceId: 'bad id!', ts: now, lat: 1, lon: 1 },
        { deviceId: 'da2', ts: now - 100, lat: 52.5, lon: 13.4, speed: -5 },
        { deviceId: 'da2', ts: now - 90, lat: 52.5, lon: 13.4, speed: 5 },
      ];
      const json = await postJson(`${node.url}/v1/telemetry`, batch, await adminHeaders());
      assert.equal(json.status, 202);
      assert.equal(json.body.accepted, 2);
      assert.deepEqual(json.body.rejected, [
        { index: 1, reason: 'BAD_LATITUDE' }, { index: 2, reason: 'NOT_A_RECORD' }, { index: 3, reason: 'BAD_DEVICE_ID' }, { index: 4, reason: 'BAD_SPEED' },
      ]);
      const mp = await post(encode(batch), 'application/msgpack');
      assert.equal(mp.status, 202);
      assert.equal(((await mp.json()) as { accepted: number }).accepted, 2);
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      assert.match(metrics, /fleetline_points_rejected_total\{reason="BAD_LATITUDE",source="http"[^}]*\} 2/);
    });

    it('bad query parameters → 400', async () => {
      const r = await fetch(`${node.url}/v1/vehicles?bbox=1,2,3`, { headers: { authorization: `Bearer ${admin}` } });
      assert.equal(r.status, 400);
      const r2 = await fetch(`${node.url}/v1/vehicles?bbox=0,50,10,40`, { headers: { authorization: `Bearer ${admin}` } });
      assert.equal(r2.status, 400);
    });

    it('WebSocket: malformed frames, unknown types and bad subscriptions get err frames and the connection stays usable', async () => {
      const c = await StreamClient.connect(node.url, admin);
      await c.next((f) => f.t === 'ready');
      c.ws.send(new Uint8Array([0xc1, 0xff, 0x00]));
      const e1 = await c.next((f) => f.t === 'err');
      assert.equal(e1.code, 'BAD_FRAME');
      c.send({ t: 'launch' }, enc);
      await c.next((f) => f.t === 'err' && f !== e1 && /unknown frame type/.test(String(f.msg)));
      c.send([1, 2, 3], enc);
      c.send({ t: 'sub', bbox: [0, 0, 500, 1] }, enc);
      await c.next((f) => f.t === 'err' && f.code === 'BAD_SUBSCRIPTION');
      c.send({ t: 'ping' }, enc);
      await c.next((f) => f.t === 'pong');
      c.close();
    });

    it('WebSocket: no auth within the timeout closes with 4001; frames before auth are refused', async () => {
      const c = await StreamClient.connect(node.url);
      c.send({ t: 'sub' }, enc);
      const e = await c.next((f) => f.t === 'err');
      assert.equal(e.code, 'AUTH_REQUIRED');
      assert.equal(await c.closed(), 4001);
    });

    it('WebSocket: an invalid token closes with 4003', async () => {
      const c = await StreamClient.connect(node.url, 'nope');
      assert.equal(await c.closed(), 4003);
    });

    it('WebSocket: a frame over the size limit closes the connection', async () => {
      const c = await StreamClient.connect(node.url, admin);
      await c.next((f) => f.t === 'ready');
      c.ws.send(new Uint8Array(70 * 1024));
      const code = await c.closed();
      assert.ok(code === 1009 || code === 1006, `close code ${code}`);
    });

    it('WebSocket: a flood closes with 4429 and the node keeps serving', async () => {
      const c = await StreamClient.connect(node.url, admin);
      await c.next((f) => f.t === 'ready');
      for (let i = 0; i < 50; i++) c.send({ t: 'ping' }, enc);
      assert.equal(await c.closed(), 4429);
      assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
    });
  });
}
