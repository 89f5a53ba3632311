import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { Socket } from 'node:net';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, startTestNode, StreamClient } from '../support/engine.js';

const DEVICES = 3000;
// Rounds are posted while the client does not read until the server has deferred flushes (the
// kernel's socket buffers hold several MB before the server sees any backpressure; how much a
// round adds depends on how much the server coalesces), at most MAX_ROUNDS.
const MIN_ROUNDS = 80;
const MAX_ROUNDS = 400;

describe('slow-client-is-coalesced', () => {
  let node: FleetlineNode;
  let admin: string;
  before(async () => {
    node = await startTestNode({ WS_MAX_BUFFERED_BYTES: '65536', WS_FLUSH_MS: '10', ACCEPT_UNBOUND_DEVICES: 'true', TRANSPORT: 'uws' });
    admin = await node.auth.sign({ role: 'admin' });
  });
  after(async () => node.close());

  const post = async (round: number, base: number) => fetch(`${node.url}/v1/telemetry`, {
    method: 'POST', headers: { 'content-type': 'application/msgpack', ...(await adminHeaders()) },
    body: encode(Array.from({ length: DEVICES }, (_, i) => ({ deviceId: `slow-${i}`, ts: base + round * 1000, lat: 10 + round / 1000, lon: 10 + i / 10_000 + round / 1000, speed: round % 90, course: (round * 7) % 360, fuel: 100 - round / 10 }))),
  });

  it('a client that stops reading gets fewer, newer updates, not an ever-growing queue', async () => {
    const base = Date.now() - 600_000;
    await post(0, base);
    for (let i = 0; i < 200 && node.index.size < DEVICES; i++) await new Promise((r) => setTimeout(r, 10));
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub' }, encode);
    await client.next((f) => f.t === 'snap');
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const deferredFlushes = async () => Number(/fleetline_ws_flushes_deferred_total\{[^}]*\} (\d+)/.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);
    let rounds = 0;
    let deferred = 0;
    while (rounds < MAX_ROUNDS && (rounds < MIN_ROUNDS || deferred === 0)) {
      rounds++;
      assert.equal((await post(rounds, base)).status, 202);
      await new Promise((res) => setTimeout(res, 15));
      if (rounds >= MIN_ROUNDS && rounds % 10 === 0) {
        await new Promise((res) => setTimeout(res, 100));
        deferred = await deferredFlushes();
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    deferred = await deferredFlushes();
    socket.resume();
    const finalLat = 10 + rounds / 1000;
    const seenFinal = new Set<string>();
    const deadline = Date.now() + 15_000;
    while (seenFinal.size < DEVICES && Date.now() < deadline) {
      for (const f of client.frames) if (f.t === 'd') for (const u of f.u as { id: string; lat?: number }[]) if (u.lat === finalLat) seenFinal.add(u.id);
      await new Promise((r) => setTimeout(r, 50));
    }
    const dFrames = client.frames.filter((f) => f.t === 'd').length;
    console.log(`# ${rounds} rounds of ${DEVICES} vehicles → ${dFrames} d frames; ${deferred} deferred flushes`);
    assert.ok(deferred > 0, 'flushes were deferred while the client did not read');
    assert.equal(seenFinal.size, DEVICES, 'every vehicle reached its latest position');
    assert.ok(dFrames < rounds, `updates were coalesced (${dFrames} d frames for ${rounds} rounds)`);
    client.close();
  });
});
