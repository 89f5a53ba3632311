import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { Socket } from 'node:net';
import type { FleetSnapshot } from '../../actors/domain/reference-data.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, startTestNode, StreamClient, writeFleetFile } from '../support/engine.js';

const VEHICLES = 3000;
const fleet: FleetSnapshot = {
  companies: [{ id: 'A', name: 'Company A', active: true }],
  vehicles: Array.from({ length: VEHICLES }, (_, i) => ({ id: `v${i}`, companyId: 'A', name: `V ${i}` })),
  devices: Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, vehicleId: `v${i}` })),
};

/**
 * Every delta carries ~250 bytes of attributes that change each round: the unsent data outgrows
 * the kernel's socket buffers within a few rounds, however much the subscriber coalesces.
 */
const PAD = 'x'.repeat(240);

for (const transport of ['uws', 'ws'] as const) {
  describe(`#7.12 a slow stream client gets its 4408 close frame (${transport})`, () => {
    let node: FleetlineNode;
    let token: string;
    before(async () => {
      node = await startTestNode({
        TRANSPORT: transport, FLEET_FILE: writeFleetFile(fleet), WS_FLUSH_MS: '10',
        // Closed as slow once 64 KiB wait unsent; flushes are not held back before that.
        WS_MAX_QUEUED_BYTES: '65536', WS_MAX_BUFFERED_BYTES: String(16 * 1024 * 1024),
        // Longer than the rounds take on a loaded machine (the paused client answers no ping), and
        // than the pause below.
        WS_PING_INTERVAL_S: '30', WS_PONG_TIMEOUT_S: '60',
      });
      token = await node.auth.sign({ role: 'admin' });
    });
    after(async () => node.close());

    const post = async (round: number, base: number): Promise<void> => {
      const res = await fetch(`${node.url}/v1/telemetry`, {
        method: 'POST', headers: { 'content-type': 'application/msgpack', ...(await adminHeaders()) },
        body: encode(Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, ts: base + round * 1000, lat: 10 + round / 1000, lon: 10 + i / 10_000, speed: round % 90, attrs: { round, pad: PAD } }))),
      });
      assert.equal(res.status, 202);
    };
    const slowClosures = async (): Promise<number> =>
      Number(/fleetline_ws_client_errors_total\{code="SLOW_CLIENT"[^}]*\} (\d+)/.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);

    it('#7.12 the client that stopped reading reads the queued frames, then close 4408', async () => {
      const base = Date.now() - 600_000;
      await post(0, base);
      for (let i = 0; i < 500 && node.index.size < VEHICLES; i++) await new Promise((r) => setTimeout(r, 10));
      const client = await StreamClient.connect(node.url, token);
      client.send({ t: 'sub' }, encode);
      await client.next((f) => f.t === 'snap', 10_000);
      const socket = (client.ws as unknown as { _socket: Socket })._socket;
      socket.pause();
      let round = 1;
      while ((await slowClosures()) === 0 && round < 400) await post(round++, base);
      assert.equal(await slowClosures(), 1, `the server closed the slow client (after ${round} rounds)`);
      await new Promise((r) => setTimeout(r, 6000));
      const framesBefore = client.frames.length;
      socket.resume();
      assert.equal(await client.closed(20_000), 4408);
      assert.ok(client.frames.length > framesBefore, 'the frames queued before the close were read first');
    });
  });
}
