/**
 * Resume on another node (#9): two engine processes of one deployment (real Kafka, Redis,
 * PostgreSQL). A client of node A loses its connection; vehicles move and events fire; it
 * resumes on node B with its session and last seq, and ends up with node B's state and every
 * event once, as a witness that stayed on node A saw them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { encode } from '@msgpack/msgpack';
import { adminHeaders, postJson, StreamClient, TEST_DOMAIN_SETTINGS, testToken } from '../support/engine.js';
import { EngineProcess } from '../support/engine-process.js';
import { eventually, LocalFleet, resumeOn, serverVehicles } from '../support/local-fleet.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';

const enc = (v: unknown) => encode(v);
const BBOX = [13.0, 52.0, 14.0, 53.0] as const;
const VEHICLES = Array.from({ length: 6 }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` }));
const base = Date.now() - 600_000;

/** Every vehicle drives east; veh-0 over the 60 km/h limit for 12 s from round 6 (overspeed); ignition toggles (events). */
async function drive(url: string, from: number, to: number): Promise<void> {
  const headers = await adminHeaders();
  for (let r = from; r <= to; r++) {
    const points = VEHICLES.map((v, i) => ({
      deviceId: v.deviceId, ts: base + r * 1000, lat: 52.4 + i * 0.01, lon: 13.3 + r * 0.0005,
      speed: i === 0 && r >= 6 && r <= 18 ? 85 : 30, ignition: (r + i) % 5 !== 0,
    }));
    const res = await postJson(`${url}/v1/telemetry`, points, headers);
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
}

/** Event ids per vehicle, in order: nodes see the vehicles' streams interleaved differently, each vehicle's in order. */
const perVehicle = (ids: string[]): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const v = id.split(':')[0];
    out.set(v, [...(out.get(v) ?? []), id]);
  }
  return new Map([...out].sort());
};
const eventIds = (frames: { t: string; e?: unknown }[]): string[] => frames.filter((f) => f.t === 'ev').flatMap((f) => (f.e as { id: string }[]).map((e) => e.id));
const lonOf = (client: StreamClient, id: string): number | undefined => {
  let lon: number | undefined;
  for (const f of client.frames) {
    if (f.t === 'snap') for (const v of f.vehicles as { id: string; lon: number }[]) if (v.id === id) lon = v.lon;
    if (f.t === 'd') for (const u of f.u as { id: string; lon?: number }[]) if (u.id === id && u.lon !== undefined) lon = u.lon;
  }
  return lon;
};

describe('#9 resume on another node', { timeout: 240_000 }, () => {
  let dep: RealDeployment;
  const nodes: EngineProcess[] = [];
  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }, { id: 'B' }], VEHICLES);
    const settings = JSON.stringify({ ...JSON.parse(TEST_DOMAIN_SETTINGS) as object, speedLimitKmh: 60 });
    for (const id of ['resume-a', 'resume-b']) {
      const node = new EngineProcess({ ...dep.env, NODE_ID: id, DOMAIN_SETTINGS: settings, WS_FLUSH_MS: '5', CHECKPOINT_INTERVAL_MS: '200' });
      nodes.push(node);
      await node.start(120_000);
    }
  });
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {});
    await dep?.cleanup();
  });

  it('#9 a client of node A drops; vehicles move and events fire; it resumes on node B with its session and seq: its state equals node B\'s GET /v1/vehicles and no event is missing or repeated', async () => {
    const [a, b] = nodes;
    const token = await testToken({ companies: ['A'] });
    await drive(a.url, 0, 0);
    for (const n of nodes) await eventually('every vehicle on both nodes', async () => (await serverVehicles(n.url, token, BBOX)).size === VEHICLES.length, 60_000);

    const witness = await StreamClient.connect(a.url, token);
    await witness.next((f) => f.t === 'ready');
    witness.send({ t: 'sub', bbox: BBOX }, enc);
    await witness.next((f) => f.t === 'snap');
    const local = new LocalFleet();
    const client = await StreamClient.connect(a.url, token);
    await client.next((f) => f.t === 'ready');
    client.send({ t: 'sub', bbox: BBOX }, enc);
    await client.next((f) => f.t === 'snap');
    await drive(a.url, 1, 4);
    await eventually('the client to see round 4', () => VEHICLES.every((v) => lonOf(client, v.id) === 13.3 + 4 * 0.0005), 30_000);

    client.ws.terminate();
    local.follow(client);
    const seq = local.seq;
    await drive(b.url, 5, 20);
    await eventually('the witness to see round 20', () => VEHICLES.every((v) => lonOf(witness, v.id) === 13.3 + 20 * 0.0005), 30_000);

    const resumed = await resumeOn(b.url, token, local, true);
    assert.deepEqual(resumed.frames.find((f) => f.t === 'resumed'), { t: 'resumed', session: local.session, epoch: 1, seq, full: false });
    const snap = await resumed.next((f) => f.t === 'snap');
    assert.equal(snap.partial, true);
    assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id).sort(), VEHICLES.map((v) => v.id), 'every vehicle moved: each once, latest state');

    await drive(b.url, 21, 24);
    let at = 0;
    await eventually('the resumed client to equal node B and the witness', async () => {
      at = local.follow(resumed, at);
      return isDeepStrictEqual(local.normalized(), await serverVehicles(b.url, token, BBOX)) && local.events.length === eventIds(witness.frames).length;
    }, 30_000, async () => {
      assert.deepEqual(perVehicle(local.events.map((e) => e.id)), perVehicle(eventIds(witness.frames)));
      assert.deepEqual(local.normalized(), await serverVehicles(b.url, token, BBOX));
    });
    const got = local.events.map((e) => e.id);
    assert.equal(new Set(got).size, got.length, 'no event repeated');
    assert.deepEqual(perVehicle(got), perVehicle(eventIds(witness.frames)), 'every event once, each vehicle\'s in order');
    assert.ok(local.events.some((e) => e.type === 'overspeed_start'), 'the overspeed fired while the client was away');
    assert.ok(eventIds(witness.frames).some((id) => !eventIds(client.frames).includes(id)), 'events happened while the client was away');
    resumed.close();
    witness.close();
  });
});
