/**
 * Resume (#9): a client that lost its connection reconnects with its session and last seq and
 * gets exactly what it missed. A witness connection that never dropped is the truth for events;
 * GET /v1/vehicles is the truth for state.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient, testToken } from '../support/engine.js';
import { eventually, LocalFleet, resumeOn, serverVehicles } from '../support/local-fleet.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';

const enc = (v: unknown) => encode(v);
const BBOX = [13.0, 52.0, 13.6, 53.0] as const;
const base = Date.now() - 600_000;

/** va1 drives north with speeds crossing its limit (60 km/h; over it for 12 s from round 11: overspeed), trips and stops; va2 drives east, at round `leaveAt` out of the bbox. */
async function drive(url: string, from: number, to: number, leaveAt = Infinity): Promise<void> {
  const headers = await adminHeaders();
  for (let r = from; r <= to; r++) {
    const res = await postJson(`${url}/v1/telemetry`, [
      { deviceId: 'da1', ts: base + r * 1000, lat: 52.5 + r * 0.0005, lon: 13.4, speed: r >= 11 && r <= 23 ? 85 : r % 4 === 0 ? 80 : r % 4 === 2 ? 0 : 30, ignition: r % 7 !== 0 },
      { deviceId: 'da2', ts: base + r * 1000, lat: 52.51, lon: r >= leaveAt ? 13.61 + r * 0.0001 : 13.41 + r * 0.0005, speed: r % 3 === 0 ? 0 : 20 },
      { deviceId: 'db1', ts: base + r * 1000, lat: 52.52, lon: 13.42 + r * 0.0005, speed: 25 },
    ], headers);
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
}

async function subscribed(url: string, token: string, local?: LocalFleet): Promise<StreamClient> {
  const client = await StreamClient.connect(url, token);
  await client.next((f) => f.t === 'ready');
  client.send({ t: 'sub', bbox: BBOX }, enc);
  await client.next((f) => f.t === 'snap');
  local?.follow(client);
  return client;
}

const lastLat = (client: StreamClient, id: string): number | undefined => {
  let lat: number | undefined;
  for (const f of client.frames) {
    if (f.t === 'snap') for (const v of f.vehicles as { id: string; lat: number }[]) if (v.id === id) lat = v.lat;
    if (f.t === 'd') for (const u of f.u as { id: string; lat?: number }[]) if (u.id === id && u.lat !== undefined) lat = u.lat;
  }
  return lat;
};
const eventIds = (frames: { t: string; e?: unknown }[]): string[] => frames.filter((f) => f.t === 'ev').flatMap((f) => (f.e as { id: string }[]).map((e) => e.id));

// Each store on one of the two WebSocket transports (uWebSockets.js, ws).
for (const [store, transport] of [['memory', 'uws'], ['redis', 'ws']] as const) {
  describe(`#9 resume on one node, sessions in ${store}, over ${transport}`, () => {
    let node: FleetlineNode;
    let redis: TestRedis | null = null;
    let tokenA: string;
    let tokenB: string;
    before(async () => {
      redis = store === 'redis' ? await createTestRedis() : null;
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '5', WS_SESSION_EVENTS: '10', ...(redis ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix } : {}) });
      tokenA = await testToken({ companies: ['A'] });
      tokenB = await testToken({ companies: ['B'] });
      await drive(node.url, 0, 0);
      await eventually('the vehicles to be resident', () => node.index.size === 3);
    });
    after(async () => {
      await node.close();
      await redis?.cleanup();
    });

    it(`#9 drop, vehicles move and events fire, resume with session and seq: the client's state equals GET /v1/vehicles and every event arrives exactly once (${store})`, async () => {
      const witness = await subscribed(node.url, tokenA);
      const local = new LocalFleet();
      const client = await subscribed(node.url, tokenA, local);
      assert.ok(local.session.length >= 22, 'ready names a session (>= 128 bits, base64url)');
      assert.equal(local.epoch, 1);
      await drive(node.url, 1, 8);
      await eventually('the client to see round 8', () => lastLat(client, 'va1') === 52.5 + 8 * 0.0005);

      // The connection drops without a close frame; what arrived before is what the client applied.
      client.ws.terminate();
      local.follow(client);
      const before = local.seq;
      await drive(node.url, 9, 24, 20);
      await eventually('the witness to see round 24 and va2 leave', () => lastLat(witness, 'va1') === 52.5 + 24 * 0.0005 && witness.frames.some((f) => f.t === 'gone'));

      const resumed = await resumeOn(node.url, tokenA, local, true);
      const answer = resumed.frames.find((f) => f.t === 'resumed')!;
      assert.deepEqual(answer, { t: 'resumed', session: local.session, epoch: 1, seq: before, full: false });
      await resumed.next((f) => f.t === 'ev');
      let at = local.follow(resumed);
      const replay = resumed.frames.filter((f) => f.t === 'snap' || f.t === 'gone' || f.t === 'ev');
      assert.deepEqual(replay.map((f) => f.seq), replay.map((_, i) => before + 1 + i), 'the numbering continues at the client seq + 1');
      const snap = replay.find((f) => f.t === 'snap')!;
      assert.equal(snap.partial, true);
      assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id), ['va1'], 'the vehicles that changed, once each, with their latest state');
      assert.equal((snap.vehicles as { lat: number }[])[0].lat, 52.5 + 24 * 0.0005);
      assert.deepEqual(replay.find((f) => f.t === 'gone')?.ids, ['va2']);

      // The live stream goes on after the resume.
      await drive(node.url, 25, 30, 20);
      await eventually('the resumed client to equal the server and the witness', async () => {
        at = local.follow(resumed, at);
        const server = await serverVehicles(node.url, tokenA, BBOX);
        const same = isDeepStrictEqual(local.normalized(), server);
        return same && local.events.length === eventIds(witness.frames).length;
      }, 20_000, async () => {
        assert.deepEqual(local.events.map((e) => e.id), eventIds(witness.frames));
        assert.deepEqual(local.normalized(), await serverVehicles(node.url, tokenA, BBOX));
      });
      assert.deepEqual(local.normalized(), await serverVehicles(node.url, tokenA, BBOX));
      assert.deepEqual(local.events.map((e) => e.id), eventIds(witness.frames), 'every event once, in order');
      assert.ok(local.events.length >= 4, `events fired (${local.events.length})`);
      assert.ok(local.events.some((e) => e.type === 'overspeed_start'));
      const missed = eventIds(witness.frames).filter((id) => !eventIds(client.frames).includes(id));
      assert.ok(missed.length > 0, 'some events happened while the client was away');
      resumed.close();
      witness.close();
    });

    it(`#9 a gap beyond the session's event buffer (WS_SESSION_EVENTS) is answered with GAP_TOO_LARGE and a full snapshot in a new epoch (${store})`, async () => {
      const local = new LocalFleet();
      const client = await subscribed(node.url, tokenA, local);
      // The client applies the snap, then nothing: more than 10 events go out that it never applies.
      await drive(node.url, 31, 100);
      await eventually('more than 10 events sent', () => eventIds(client.frames).length > 10, 20_000, () => assert.deepEqual(eventIds(client.frames), []));
      client.ws.terminate();
      const resumed = await resumeOn(node.url, tokenA, local, false);
      assert.deepEqual(resumed.frames.find((f) => f.t === 'resumed'), { t: 'resumed', session: local.session, epoch: 2, full: true, reason: 'GAP_TOO_LARGE' });
      const snap = await resumed.next((f) => f.t === 'snap');
      assert.equal(snap.seq, 1);
      assert.equal(snap.partial, undefined);
      let at = local.follow(resumed);
      assert.equal(local.epoch, 2);
      await eventually('the client to equal the server', async () => {
        at = local.follow(resumed, at);
        return isDeepStrictEqual(local.normalized(), await serverVehicles(node.url, tokenA, BBOX));
      });
      resumed.close();

      // The session goes on in epoch 2; a client that names epoch 1 gets EPOCH_CHANGED.
      const stale = await resumeOn(node.url, tokenA, local, false, { epoch: 1 });
      assert.deepEqual(stale.frames.find((f) => f.t === 'resumed'), { t: 'resumed', session: local.session, epoch: 3, full: true, reason: 'EPOCH_CHANGED' });
      await stale.next((f) => f.t === 'snap' && f.seq === 1);
      stale.close();
    });

    it(`#9 resuming a session its old connection still holds (a half-open socket) takes it over: the old connection is closed (1000), the new one continues the numbering (${store})`, async () => {
      const local = new LocalFleet();
      const old = await subscribed(node.url, tokenA, local);
      await drive(node.url, 101, 103);
      await eventually('the old connection to see round 103', () => lastLat(old, 'va1') === 52.5 + 103 * 0.0005);
      local.follow(old);
      const resumed = await resumeOn(node.url, tokenA, local, true);
      assert.deepEqual(resumed.frames.find((f) => f.t === 'resumed'), { t: 'resumed', session: local.session, epoch: 1, seq: local.seq, full: false });
      assert.equal(await old.closed(), 1000);
      let at = local.follow(resumed);
      await drive(node.url, 104, 105);
      await eventually('the resumed client to equal the server', async () => {
        at = local.follow(resumed, at);
        return isDeepStrictEqual(local.normalized(), await serverVehicles(node.url, tokenA, BBOX));
      });
      resumed.close();
    });

    it(`#9 an unknown session is answered UNKNOWN_SESSION with the connection's new session and nothing else; the client subscribes again (${store})`, async () => {
      const client = await StreamClient.connect(node.url, tokenA);
      const ready = await client.next((f) => f.t === 'ready');
      client.send({ t: 'resume', session: 'no-such-session', seq: 7 }, enc);
      const answer = await client.next((f) => f.t === 'resumed');
      assert.deepEqual(answer, { t: 'resumed', session: ready.session, epoch: 1, full: true, reason: 'UNKNOWN_SESSION' });
      client.send({ t: 'sub', bbox: BBOX }, enc);
      await client.next((f) => f.t === 'snap');
      const after = client.frames.slice(client.frames.indexOf(answer) + 1);
      assert.equal(after[0].t, 'snap', 'nothing between resumed and the snap of the new sub');
      assert.equal(after[0].seq, 1);
      // A resume comes before any sub; a malformed one is refused; neither closes the stream.
      client.send({ t: 'resume', session: ready.session, seq: 1 }, enc);
      const late = await client.next((f) => f.t === 'err');
      assert.equal(late.code, 'BAD_FRAME');
      const fresh = await StreamClient.connect(node.url, tokenA);
      await fresh.next((f) => f.t === 'ready');
      fresh.send({ t: 'resume', session: ready.session, seq: -1 }, enc);
      assert.equal((await fresh.next((f) => f.t === 'err')).code, 'BAD_FRAME');
      fresh.close();
      client.close();
    });

    it(`#9 a session resumed with another company's token is UNKNOWN_SESSION (and stays its owner's); an admin session resumed with a company token is narrowed to it (${store})`, async () => {
      const local = new LocalFleet();
      const client = await subscribed(node.url, tokenA, local);
      client.ws.terminate();
      const foreign = await resumeOn(node.url, tokenB, local, false);
      const answer = foreign.frames.find((f) => f.t === 'resumed')!;
      assert.equal(answer.reason, 'UNKNOWN_SESSION');
      assert.notEqual(answer.session, local.session);
      foreign.close();
      const owner = await resumeOn(node.url, tokenA, local, true);
      assert.equal(owner.frames.find((f) => f.t === 'resumed')?.full, false, 'the owner still resumes it');
      owner.close();

      const adminLocal = new LocalFleet();
      const admin = await subscribed(node.url, await testToken({ role: 'admin' }), adminLocal);
      assert.ok(adminLocal.vehicles.has('vb1'));
      admin.ws.terminate();
      const narrowed = await resumeOn(node.url, tokenA, adminLocal, true);
      assert.equal(narrowed.frames.find((f) => f.t === 'resumed')?.full, false);
      await narrowed.next((f) => f.t === 'gone');
      adminLocal.follow(narrowed);
      assert.deepEqual([...adminLocal.vehicles.keys()].sort(), [...(await serverVehicles(node.url, tokenA, BBOX)).keys()].sort());
      assert.ok(!adminLocal.vehicles.has('vb1'), 'never wider than the new token');
      narrowed.close();
    });
  });
}
