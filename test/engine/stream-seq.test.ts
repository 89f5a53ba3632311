import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { WebSocketServer } from 'ws';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, SEQ_FRAME_TYPES, startTestNode, StreamClient } from '../support/engine.js';

const enc = (v: unknown) => encode(v);

/**
 * An in-process fake server, only to show that StreamClient's seq check fails on a gap, a
 * repeat or a missing seq: the real server must never send those, so it cannot show it.
 */
async function fakeServer(frames: Record<string, unknown>[]): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (socket) => {
    for (const f of frames) socket.send(encode(f));
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}

describe('#7.14 the test stream client fails on a seq discontinuity', () => {
  const cases: { name: string; frames: Record<string, unknown>[]; error: RegExp | null }[] = [
    { name: 'continuous, with seq-less frames between', frames: [{ t: 'ready' }, { t: 'snap', seq: 1, vehicles: [] }, { t: 'pong', ts: 1 }, { t: 'd', seq: 2, u: [] }, { t: 'ev', seq: 3, e: [] }, { t: 'gone', seq: 4, ids: [] }, { t: 'unsubbed', seq: 5 }, { t: 'end' }], error: null },
    { name: 'a gap', frames: [{ t: 'snap', seq: 1, vehicles: [] }, { t: 'd', seq: 2, u: [] }, { t: 'd', seq: 4, u: [] }, { t: 'end' }], error: /seq gap: a d frame with seq 4 after seq 2/ },
    { name: 'a repeat', frames: [{ t: 'snap', seq: 1, vehicles: [] }, { t: 'd', seq: 2, u: [] }, { t: 'ev', seq: 2, e: [] }, { t: 'end' }], error: /seq repeat: a ev frame with seq 2 after seq 2/ },
    { name: 'a first seq other than 1', frames: [{ t: 'snap', seq: 2, vehicles: [] }, { t: 'end' }], error: /seq gap: a snap frame with seq 2 after seq 0/ },
    { name: 'a frame without seq', frames: [{ t: 'snap', seq: 1, vehicles: [] }, { t: 'gone', ids: [] }, { t: 'end' }], error: /a gone frame without an integer seq/ },
  ];
  for (const c of cases) {
    it(`#7.14 ${c.name}: ${c.error ? 'the test fails' : 'passes'}`, async () => {
      const server = await fakeServer(c.frames);
      try {
        const client = await StreamClient.connect(server.url);
        const waitForEnd = client.next((f) => f.t === 'end');
        if (c.error) {
          await assert.rejects(waitForEnd, c.error);
          assert.throws(() => client.close(), c.error);
        } else {
          await waitForEnd;
          client.close();
        }
      } finally {
        await server.close();
      }
    });
  }
});

for (const transport of ['uws', 'ws'] as const) {
  describe(`#7.14 seq continuity against a real node over ${transport}`, () => {
    let node: FleetlineNode;
    let admin: string;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '5' });
      admin = await node.auth.sign({ role: 'admin' });
    });
    after(async () => node.close());

    it(`#7.14 seq increases by exactly one over every snap, d, ev, gone, unsubbed and cl frame (${transport})`, async () => {
      const base = Date.now() - 600_000;
      const post = async (points: unknown) => {
        const res = await postJson(`${node.url}/v1/telemetry`, points, await adminHeaders());
        assert.equal(res.status, 202, JSON.stringify(res.body));
      };
      await post([{ deviceId: 'da1', ts: base, lat: 52.5, lon: 13.4, speed: 10 }, { deviceId: 'da2', ts: base, lat: 52.51, lon: 13.41, speed: 0 }]);
      for (let i = 0; i < 200 && node.index.size < 2; i++) await new Promise((r) => setTimeout(r, 10));

      const client = await StreamClient.connect(node.url, admin);
      await client.next((f) => f.t === 'ready');
      // The east edge just past va2's last position: it leaves by driving on (a jump would be filtered).
      client.send({ t: 'sub', bbox: [13.0, 52.0, 13.431, 53.0] }, enc);
      await client.next((f) => f.t === 'snap');
      // Moves of both vehicles with speed crossing va1's limit (60) and trips starting and
      // ending, so d and ev frames interleave; then va2 leaves the bbox (gone), an unsub and a
      // new sub (unsubbed, snap).
      for (let r = 1; r <= 40; r++) {
        await post([
          { deviceId: 'da1', ts: base + r * 1000, lat: 52.5 + r * 0.0005, lon: 13.4, speed: r % 4 === 0 ? 80 : r % 4 === 2 ? 0 : 30 },
          { deviceId: 'da2', ts: base + r * 1000, lat: 52.51, lon: 13.41 + r * 0.0005, speed: r % 3 === 0 ? 0 : 20, ignition: r % 5 !== 0 },
        ]);
      }
      const lastLat = 52.5 + 40 * 0.0005;
      await client.next((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === 'va1' && u.lat === lastLat), 15_000);
      let from = client.frames.length;
      await post({ deviceId: 'da2', ts: base + 41_000, lat: 52.51, lon: 13.4315, speed: 20 });
      await client.next((f) => f.t === 'gone', 15_000, from);
      client.send({ t: 'unsub' }, enc);
      await client.next((f) => f.t === 'unsubbed', 15_000, from);
      from = client.frames.length;
      client.send({ t: 'sub', zoom: 3, lod: 'clusters' }, enc);
      await client.next((f) => f.t === 'cl', 15_000, from);
      from = client.frames.length;
      client.send({ t: 'sub' }, enc);
      await client.next((f) => f.t === 'snap', 15_000, from);

      const withSeq = client.frames.filter((f) => SEQ_FRAME_TYPES.has(f.t));
      const types = new Set(withSeq.map((f) => f.t));
      for (const t of SEQ_FRAME_TYPES) assert.ok(types.has(t), `the run produced a ${t} frame`);
      assert.deepEqual(withSeq.map((f) => f.seq), withSeq.map((_, i) => i + 1));
      console.log(`# ${transport}: ${withSeq.length} frames with seq 1..${client.lastSeq} (${[...types].join(', ')})`);
      client.close();
    });
  });
}
