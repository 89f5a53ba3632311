import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, SEQ_FRAME_TYPES, startTestNode, StreamClient } from '../support/engine.js';

const enc = (v: unknown) => encode(v);

for (const transport of ['uws', 'ws'] as const) {
  describe(`end to end over ${transport}: POST → vehicle actor → WebSocket`, () => {
    let node: FleetlineNode;
    let admin: string;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '20' });
      admin = await node.auth.sign({ role: 'admin' });
    });
    after(async () => node.close());

    it(`runs on the ${transport} transport`, () => assert.equal(node.transport, transport));

    // How fast a delta arrives is a figure of `npm run bench` (end-to-end latency), not a test.
    it('#7.14 bbox subscriber gets a snap, then a d frame with each new position (changed fields only), then gone; seq continuous', async () => {
      const now = Date.now();
      const headers = await adminHeaders();
      const first = await postJson(`${node.url}/v1/telemetry`, [
        { deviceId: 'da1', ts: now - 2000, lat: 52.50, lon: 13.40, speed: 10 },
        { deviceId: 'da2', ts: now - 2000, lat: 52.51, lon: 13.9995 },
        { deviceId: 'db1', ts: now - 2000, lat: 48.1, lon: 11.5 },
      ], headers);
      assert.equal(first.status, 202);
      assert.equal(first.body.accepted, 3);
      // The vehicles are resident once the index answers for them.
      for (let i = 0; i < 100 && node.index.size < 3; i++) await new Promise((r) => setTimeout(r, 10));

      const client = await StreamClient.connect(node.url, admin);
      client.send({ t: 'sub', bbox: [13.0, 52.0, 14.0, 53.0] }, enc);
      const snap = await client.next((f) => f.t === 'snap');
      const ids = (snap.vehicles as { id: string }[]).map((v) => v.id).sort();
      assert.deepEqual(ids, ['va1', 'va2']);
      assert.equal(typeof snap.seq, 'number');

      for (let i = 1; i <= 5; i++) {
        const from = client.frames.length;
        const lat = 52.50 + i * 0.001;
        const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 2000 + i * 100, lat, lon: 13.40, speed: 30 }, headers);
        assert.equal(res.status, 202);
        const d = await client.next((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === 'va1' && u.lat === lat), 15_000, from);
        const u = (d.u as Record<string, unknown>[]).find((x) => x.id === 'va1')!;
        assert.equal(u.lon, undefined, 'a delta carries only changed fields');
      }

      // Leaving the bbox yields a gone frame.
      const from = client.frames.length;
      // Just across the bbox's east edge (70 m: a real drive, not a GPS jump the filters drop).
      await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da2', ts: now - 1000, lat: 52.51, lon: 14.0005 }, headers);
      const gone = await client.next((f) => f.t === 'gone', 15_000, from);
      assert.deepEqual(gone.ids, ['va2']);
      // seq goes up by exactly one per frame that carries it (StreamClient also checks each frame).
      const seqs = client.frames.filter((f) => SEQ_FRAME_TYPES.has(f.t)).map((f) => f.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
      client.close();
    });

    it('auth by first frame, ping/pong and unsub', async () => {
      const client = await StreamClient.connect(node.url);
      client.send({ t: 'auth', token: admin }, enc);
      await client.next((f) => f.t === 'ready');
      client.send({ t: 'ping' }, enc);
      await client.next((f) => f.t === 'pong');
      client.send({ t: 'sub', vehicles: ['va1'] }, enc);
      const snap = await client.next((f) => f.t === 'snap');
      assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id), ['va1']);
      client.send({ t: 'unsub' }, enc);
      await client.next((f) => f.t === 'unsubbed');
      client.close();
    });

    it('snapshot reads over HTTP as JSON and MessagePack', async () => {
      const res = await fetch(`${node.url}/v1/vehicles?bbox=13,52,14,53`, { headers: { authorization: `Bearer ${admin}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { vehicles: { id: string }[] };
      assert.ok(body.vehicles.some((v) => v.id === 'va1'));
      const one = await fetch(`${node.url}/v1/vehicles/va1`, { headers: { authorization: `Bearer ${admin}`, accept: 'application/msgpack' } });
      assert.equal(one.headers.get('content-type'), 'application/msgpack');
      const { decode } = await import('@msgpack/msgpack');
      assert.equal((decode(new Uint8Array(await one.arrayBuffer())) as { id: string }).id, 'va1');
    });

    it('health, readiness and metrics', async () => {
      assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${node.url}/readyz`)).status, 200);
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      for (const name of ['fleetline_points_accepted_total', 'fleetline_points_rejected_total', 'fleetline_actors_alive', 'fleetline_mailbox_depth',
        'fleetline_ws_connections', 'fleetline_ws_frames_sent_total', 'fleetline_ws_bytes_sent_total', 'fleetline_delivery_latency_seconds_bucket']) {
        assert.ok(metrics.includes(name), `metric ${name}`);
      }
      assert.match(metrics, new RegExp(`fleetline_transport_info\\{kind="${transport}"`));
    });
  });
}
