import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { haversineKm, bearingDeg } from '../../actors/domain/geo.js';
import { loadBaselineConfig, type BaselineConfig } from '../../loadtest/baseline/config.js';
import { startProcessor, type ProcessorHandle } from '../../loadtest/baseline/processor.js';
import { startFanout, type FanoutHandle } from '../../loadtest/baseline/fanout.js';
import { HotStateKeys, unpackValue } from '../../loadtest/baseline/hot-state.js';
import type { StoredState } from '../../loadtest/baseline/vehicle-derivation.js';
import { StreamClient, TEST_SECRET, testToken, writeFleetFile, type Frame } from '../support/engine.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';
import { deleteTestTopics, TEST_KAFKA_BROKERS } from '../support/real-services.js';

const fleet = {
  companies: [{ id: 'A', name: 'A', active: true }, { id: 'B', name: 'B', active: true }],
  vehicles: [
    { id: 'va1', companyId: 'A', name: 'A one', speedLimit: 60 },
    { id: 'va3', companyId: 'A', name: 'A three' },
    { id: 'va4', companyId: 'A', name: 'A four' },
    { id: 'vb1', companyId: 'B', name: 'B one' },
  ],
  devices: [
    { deviceId: 'da1', vehicleId: 'va1' }, { deviceId: 'da3', vehicleId: 'va3' },
    { deviceId: 'da4', vehicleId: 'va4' }, { deviceId: 'db1', vehicleId: 'vb1' },
  ],
};

/** A client's local copy of its scope, built from snap, d and gone frames as docs/protocol.md says. */
class LocalView {
  readonly vehicles = new Map<string, Record<string, unknown>>();
  readonly everSeen = new Set<string>();
  readonly goneIds: string[] = [];
  private applied = 0;
  constructor(private readonly client: StreamClient) {}
  catchUp(): void {
    for (; this.applied < this.client.frames.length; this.applied++) {
      const f = this.client.frames[this.applied];
      if (f.t === 'snap') {
        this.vehicles.clear();
        for (const v of f.vehicles as Record<string, unknown>[]) this.put(v);
      } else if (f.t === 'd') {
        for (const u of f.u as Record<string, unknown>[]) this.put({ ...this.vehicles.get(u.id as string), ...u });
      } else if (f.t === 'gone') {
        for (const id of f.ids as string[]) { this.vehicles.delete(id); this.goneIds.push(id); }
      }
    }
  }
  private put(v: Record<string, unknown>): void {
    this.vehicles.set(v.id as string, v);
    this.everSeen.add(v.id as string);
  }
  /** Waits until `pred` holds on the local view. */
  async until(pred: (view: LocalView) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.catchUp();
      if (pred(this)) return;
      if (Date.now() > deadline) throw new Error(`#11 timed out waiting for ${what}; frames: ${JSON.stringify(this.client.frames.map((f) => f.t))}`);
      await this.client.next(() => true, Math.max(1, deadline - Date.now()), this.client.frames.length).catch(() => new Promise((r) => setTimeout(r, 50)));
    }
  }
}

describe('#11 baseline pipeline on real Kafka and Redis', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let config: BaselineConfig;
  let processor: ProcessorHandle;
  let fanout: FanoutHandle;
  let producer: Producer;
  let kafka: Kafka;
  const topicPrefix = `test.${randomBytes(5).toString('hex')}.`;
  const t0 = Date.now() - 120_000;

  before(async () => {
    redis = await createTestRedis();
    config = loadBaselineConfig({
      KAFKA_BROKERS: TEST_KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix,
      JWT_SECRET: TEST_SECRET, FLEET_FILE: writeFleetFile(fleet), PORT: '0', HOST: '127.0.0.1', TELEMETRY_PARTITIONS: '4',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    });
    const log = pino({ level: config.logLevel });
    processor = await startProcessor(config, log);
    fanout = await startFanout(config, log);
    kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'baseline-test', logLevel: logLevel.NOTHING });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  // Every step runs even when the start failed half-way: a connection left open keeps the test
  // process alive after its failure instead of letting it report and exit.
  after(async () => {
    const steps: (() => Promise<unknown> | undefined)[] = [
      () => producer?.disconnect(),
      () => fanout?.stop(),
      () => processor?.stop(),
      () => deleteTestTopics(topicPrefix),
      () => redis?.cleanup(),
    ];
    for (const step of steps) await Promise.resolve().then(step).catch(() => undefined);
  });

  const produce = (records: { deviceId: string; value: Buffer }[]): Promise<unknown> =>
    producer.send({ topic: `${topicPrefix}telemetry.raw`, messages: records.map((r) => ({ key: r.deviceId, value: r.value })) });
  const msgpackPoint = (p: Record<string, unknown>): { deviceId: string; value: Buffer } => ({ deviceId: p.deviceId as string, value: Buffer.from(encodeMsgpack(p)) });
  const jsonPoint = (p: Record<string, unknown>): { deviceId: string; value: Buffer } => ({ deviceId: p.deviceId as string, value: Buffer.from(JSON.stringify(p)) });

  async function subscribe(claims: Record<string, unknown>, sub: Record<string, unknown>): Promise<{ client: StreamClient; view: LocalView }> {
    const client = await StreamClient.connect(fanout.url, await testToken(claims));
    await client.next((f) => f.t === 'ready');
    client.send({ t: 'sub', ...sub }, encodeMsgpack);
    await client.next((f) => f.t === 'snap');
    return { client, view: new LocalView(client) };
  }

  test('#11 points produced to the baseline telemetry.raw (MessagePack and JSON) reach a fanout client as deltas with speed, course, odometer, moving and overspeed; Redis holds the new state', async () => {
    const { client, view } = await subscribe({ companies: ['A'] }, {});
    const a = { lat: 52.52, lon: 13.4 };
    const b = { lat: 52.521, lon: 13.4015 };
    const c = { lat: 52.523, lon: 13.404 };
    await produce([msgpackPoint({ deviceId: 'da1', ts: t0, ...a }), msgpackPoint({ deviceId: 'db1', ts: t0, ...a })]);
    await produce([jsonPoint({ deviceId: 'da1', ts: t0 + 10_000, ...b })]);
    await view.until((v) => v.vehicles.get('va1')?.ts === t0 + 10_000, 'va1 at its second point');
    const hop1 = haversineKm(a.lat, a.lon, b.lat, b.lon);
    assert.equal(view.vehicles.get('va1')!.speed, Math.round((hop1 / (10_000 / 3_600_000)) * 10) / 10, 'speed implied by the hop when the device sends none');
    assert.equal(view.vehicles.get('va1')!.moving, true);
    await produce([msgpackPoint({ deviceId: 'da1', ts: t0 + 20_000, ...c, speed: 80 })]);
    await view.until((v) => v.vehicles.get('va1')?.ts === t0 + 20_000, 'va1 at its third point');

    const hop2 = haversineKm(b.lat, b.lon, c.lat, c.lon);
    const va1 = view.vehicles.get('va1')!;
    assert.equal(va1.company, 'A');
    assert.equal(va1.name, 'A one');
    assert.equal(va1.speed, 80, 'the reported speed');
    assert.equal(va1.moving, true);
    assert.equal(va1.course, Math.round(bearingDeg(b.lat, b.lon, c.lat, c.lon) * 10) / 10, 'course derived from the last hop');
    assert.equal(va1.odometer, Math.round((hop1 + hop2) * 1000) / 1000, 'odometer: the sum of the hops');
    const last = client.frames.filter((f): f is Frame & { u: Record<string, unknown>[] } => f.t === 'd').flatMap((f) => f.u).find((u) => u.id === 'va1' && u.ts === t0 + 20_000);
    assert.ok(last !== undefined && !('name' in last), 'the third point arrived as a delta carrying only changed fields');
    const ev = await client.next((f) => f.t === 'ev');
    const events = ev.e as Record<string, unknown>[];
    assert.deepEqual(events.map((e) => [e.vehicleId, e.type, e.ts]), [['va1', 'overspeed_start', t0 + 20_000]]);
    assert.ok(!view.everSeen.has('vb1'), 'a vehicle of company B never reaches a company A token');

    const stored = await redis.redis.getBuffer(new HotStateKeys(redis.prefix).state('va1'));
    assert.ok(stored !== null, 'the state of va1 is in Redis');
    const state = unpackValue<StoredState>(stored);
    assert.equal(state.view.ts, t0 + 20_000);
    assert.equal(state.view.odometer, va1.odometer);
    assert.equal(state.overspeeding, true);
    assert.ok(processor.stats.published >= 4);
    client.close();
  });

  test('#11 a bbox subscription on the baseline fanout receives only the vehicles inside it, and a gone when one leaves', async () => {
    const berlin = [13.3, 52.4, 13.5, 52.6];
    const { client, view } = await subscribe({ companies: ['A'] }, { bbox: berlin });
    await produce([
      msgpackPoint({ deviceId: 'da3', ts: t0, lat: 52.5, lon: 13.41 }),
      msgpackPoint({ deviceId: 'da4', ts: t0, lat: 48.14, lon: 11.58 }),
    ]);
    await produce([
      msgpackPoint({ deviceId: 'da4', ts: t0 + 5_000, lat: 48.141, lon: 11.581 }),
      msgpackPoint({ deviceId: 'da3', ts: t0 + 5_000, lat: 52.501, lon: 13.411 }),
    ]);
    await view.until((v) => v.vehicles.get('va3')?.ts === t0 + 5_000, 'va3 inside the bbox');
    await produce([msgpackPoint({ deviceId: 'da3', ts: t0 + 10_000, lat: 52.7, lon: 13.41 })]);
    await view.until((v) => v.goneIds.includes('va3'), 'va3 leaving the bbox');
    assert.ok(!view.everSeen.has('va4'), 'va4 (Munich) never reached a Berlin bbox subscription');
    assert.ok(!view.vehicles.has('va3'));

    // A second client subscribing now gets the snapshot from Redis: va4 is outside, va3 left.
    const late = await subscribe({ companies: ['A'] }, { bbox: [11.5, 48.1, 11.7, 48.2] });
    late.view.catchUp();
    assert.deepEqual([...late.view.vehicles.keys()], ['va4']);
    client.close();
    late.client.close();
  });

  test('#11 GET /v1/vehicles of the baseline fanout answers a filter with the current states from Redis, within the token\'s grant (the harness checks its clients with it)', async () => {
    await produce([msgpackPoint({ deviceId: 'da4', ts: t0 + 30_000, lat: 52.51, lon: 13.42 }), msgpackPoint({ deviceId: 'db1', ts: t0 + 30_000, lat: 52.51, lon: 13.42 })]);
    const tokenA = await testToken({ companies: ['A'] });
    const get = async (query: string, token = tokenA): Promise<{ status: number; body: { vehicles?: { id: string; ts: number; company: string }[] } }> => {
      const res = await fetch(`${fanout.url}/v1/vehicles?${query}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as { vehicles?: { id: string; ts: number; company: string }[] } };
    };
    const deadline = Date.now() + 20_000;
    let byIds = await get('ids=va4,vb1');
    while (!byIds.body.vehicles?.some((v) => v.id === 'va4' && v.ts === t0 + 30_000) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      byIds = await get('ids=va4,vb1');
    }
    assert.equal(byIds.status, 200);
    assert.deepEqual(byIds.body.vehicles?.map((v) => [v.id, v.ts]), [['va4', t0 + 30_000]], 'va4 at its point; vb1 is outside the grant');
    const byCompany = await get('company=A');
    assert.ok(byCompany.body.vehicles!.length > 0 && byCompany.body.vehicles!.every((v) => v.company === 'A'));
    const byBox = await get('bbox=13.41,52.50,13.43,52.52');
    assert.ok(byBox.body.vehicles!.some((v) => v.id === 'va4') && !byBox.body.vehicles!.some((v) => v.id === 'vb1'));
    assert.equal((await get('company=A', 'not-a-token')).status, 401);
    assert.equal((await get('bbox=1,2,3')).status, 400);
  });
});
