import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { JwtAuth } from '../../engine/auth.js';
import { decodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { EngineProcess } from '../support/engine-process.js';
import { postJson, TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, seedReference, TEST_KAFKA_BROKERS, type RealDeployment } from '../support/real-services.js';

const DEVICES = 5;
/** Below the broker's own broker.session.timeout.ms (9 s), so the frozen node does not fence itself on resume. */
const FREEZE_MS = 6000;
/** An append acknowledged just before the freeze may still be answered just after it. */
const IN_FLIGHT_GRACE_MS = 500;

/** The `ts` of every record of `deviceId` in a topic, read from the beginning until `want` is covered or 30 s passed. */
async function storedTimestamps(topic: string, deviceId: string, want: ReadonlySet<number>): Promise<Set<number>> {
  const kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'kafka-outage-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}.reader-${Date.now()}` });
  const seen = new Set<number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key?.toString() !== deviceId || !message.value) return;
        seen.add((decodeMsgpack(message.value) as { ts: number }).ts);
      },
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && [...want].some((ts) => !seen.has(ts))) await new Promise((r) => setTimeout(r, 200));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** The pid of the process listening on the broker's port (whoever started it). */
function brokerPid(): number {
  const port = new URL(`kafka://${TEST_KAFKA_BROKERS.split(',')[0]}`).port || '9092';
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process listens on ${port}: ${out}`);
  return Number(m[1]);
}

interface Post {
  readonly ts: number;
  readonly sentAt: number;
  answeredAt: number;
  status: number;
}

/**
 * The real broker is frozen (SIGSTOP) for 6 s while points are posted, then resumed (SIGCONT):
 * intake pauses, nothing is acknowledged while the broker cannot store it, and every point
 * that was acknowledged is in telemetry.raw and applied by the engine.
 */
describe('Kafka unavailable (the real broker frozen for 6 s)', () => {
  let dep: RealDeployment;
  let engine: EngineProcess;
  let pid = 0;
  let frozen = false;
  let token = '';

  before(async () => {
    dep = await createRealDeployment(2);
    await seedReference(dep.db, [{ id: 'A' }], Array.from({ length: DEVICES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `kdev-${i}` })));
    engine = new EngineProcess({ ...dep.env, CHECKPOINT_INTERVAL_MS: '250', NODE_ID: 'kafka-outage-test' });
    await engine.start();
    token = await new JwtAuth(TEST_SECRET).sign({ role: 'admin' });
    pid = brokerPid();
  });
  after(async () => {
    if (frozen) process.kill(pid, 'SIGCONT');
    await engine?.stop();
    // The next suites need a broker that answers again.
    const admin = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'kafka-outage-after', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.listTopics();
    await admin.disconnect();
    await dep?.cleanup();
  });

  /** The engine applies what was stored: veh-0 ends at the newest acknowledged point. */
  async function waitForVehicleTs(ts: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    let seen = 0;
    while (Date.now() < deadline) {
      const res = await fetch(`${engine.url}/v1/vehicles/veh-0`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 200) seen = ((await res.json()) as { ts: number }).ts;
      else await res.arrayBuffer();
      if (seen === ts) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(seen, ts, 'the vehicle shows the newest acknowledged point');
  }

  it('pauses intake, acknowledges nothing it could not store, and loses no acknowledged point', { timeout: 120_000 }, async () => {
    const posts: Post[] = [];
    const base = Date.now() - 600_000;
    let n = 0;
    const postOne = (): Promise<void> => {
      const ts = base + ++n * 1000;
      const post: Post = { ts, sentAt: Date.now(), answeredAt: 0, status: 0 };
      posts.push(post);
      const body = Array.from({ length: DEVICES }, (_, i) => ({ deviceId: `kdev-${i}`, ts, lat: 52.5 + n / 1e5, lon: 13.4 + i / 1000, speed: 40 }));
      return postJson(`${engine.url}/v1/telemetry`, body, { authorization: `Bearer ${token}` }).then(
        (r) => { post.status = r.status; post.answeredAt = Date.now(); },
        () => { post.status = -1; post.answeredAt = Date.now(); },
      );
    };
    const inFlight: Promise<void>[] = [];
    const postFor = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        inFlight.push(postOne());
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    await postFor(2000);
    process.kill(pid, 'SIGSTOP');
    frozen = true;
    const frozenAt = Date.now();
    await postFor(FREEZE_MS);
    process.kill(pid, 'SIGCONT');
    frozen = false;
    const resumedAt = Date.now();
    await postFor(4000);
    await Promise.all(inFlight);

    const ackedWhileFrozen = posts.filter((p) => p.status === 202 && p.answeredAt > frozenAt + IN_FLIGHT_GRACE_MS && p.answeredAt < resumedAt);
    const sentWhileFrozen = posts.filter((p) => p.sentAt >= frozenAt && p.sentAt < resumedAt);
    const accepted = posts.filter((p) => p.status === 202);
    const statuses = new Map<number, number>();
    for (const p of posts) statuses.set(p.status, (statuses.get(p.status) ?? 0) + 1);
    console.log(`# ${posts.length} POSTs of ${DEVICES} points; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
      `${sentWhileFrozen.length} sent while the broker was frozen, answered ${Math.round(Math.min(...sentWhileFrozen.map((p) => p.answeredAt)) - resumedAt)} ms after it resumed at the earliest`);

    assert.ok(sentWhileFrozen.length >= 10, 'points were posted while the broker was frozen');
    assert.deepEqual(ackedWhileFrozen.map((p) => p.ts), [], 'nothing is acknowledged while the broker cannot store it');
    for (const p of sentWhileFrozen) {
      assert.ok(p.status === 202 || p.status === 503, `a POST sent during the freeze was answered ${p.status}`);
      if (p.status === 202) assert.ok(p.answeredAt >= resumedAt, 'intake paused: answered only after the broker came back');
    }
    const lastTwo = posts.slice(-2);
    assert.ok(lastTwo.every((p) => p.status === 202), 'intake recovered by itself');

    // Every acknowledged point is in telemetry.raw (read back by a consumer of the test's own).
    const want = new Set(accepted.map((p) => p.ts));
    const stored = await storedTimestamps(dep.topic('telemetry.raw'), 'kdev-0', want);
    const missing = [...want].filter((ts) => !stored.has(ts));
    assert.deepEqual(missing, [], 'every acknowledged point is stored in Kafka');
    await waitForVehicleTs(Math.max(...want));
  });
});
