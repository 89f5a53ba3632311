import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { JwtAuth } from '../../engine/auth.js';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { EngineProcess } from '../support/engine-process.js';
import { TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, seedReference, TEST_KAFKA_BROKERS, type RealDeployment } from '../support/real-services.js';

const VEHICLES = 20;
const OUTAGE_MS = 10_000;
const services = (arg: string) => execFileSync('bash', ['scripts/services.sh', arg], { stdio: 'pipe' });
const stopRedis = () => execFileSync('redis-cli', ['-h', '127.0.0.1', 'shutdown', 'nosave'], { stdio: 'pipe' });
const stopPostgres = () => execFileSync('bash', ['-c', 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main stop -m fast'], { stdio: 'pipe' });

/**
 * Really stops the shared Redis and PostgreSQL servers for 10 s each (and always starts them
 * again): the engine keeps processing, shows the degraded state, and loses no accepted point.
 */
describe('Redis and PostgreSQL outages of 10 s (real servers stopped)', () => {
  let dep: RealDeployment;
  let producer: Producer;
  let engine: EngineProcess;
  let token: string;
  let sent = 0;
  let lastTs = 0;

  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }], Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` })));
    const kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'outage-test', logLevel: logLevel.NOTHING });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    engine = new EngineProcess({ ...dep.env, CHECKPOINT_INTERVAL_MS: '250', NODE_ID: 'outage-test' });
    await engine.start();
    token = await new JwtAuth(TEST_SECRET).sign({ role: 'admin' });
  });
  after(async () => {
    services('up');
    await engine?.stop();
    await producer?.disconnect();
    await dep?.cleanup();
  });

  /** Produces one point per vehicle every 100 ms for `ms`, while `during` runs. */
  async function flow(ms: number, during?: () => Promise<void>): Promise<void> {
    let stop = false;
    const loop = (async () => {
      const base = Date.now() - 3_600_000;
      while (!stop) {
        lastTs = base + sent;
        await producer.send({
          topic: dep.topic('telemetry.raw'), acks: -1,
          messages: Array.from({ length: VEHICLES }, (_, i) => ({
            key: `dev-${i}`, value: Buffer.from(encodeMsgpack({ deviceId: `dev-${i}`, ts: lastTs, lat: 52.5 + (sent % 1000) / 1e5, lon: 13.4 + i / 1000, speed: 30 })),
          })),
        });
        sent++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const t = new Promise((r) => setTimeout(r, ms));
    if (during) await during();
    await t;
    stop = true;
    await loop;
  }

  const readiness = async () => {
    try {
      return ((await (await fetch(`${engine.url}/readyz`)).json()) as { components: Record<string, string> }).components;
    } catch (e) {
      throw new Error(`engine not answering (${(e as Error).message}); its last log lines:\n${engine.logs.slice(-25).join('\n')}`);
    }
  };

  async function outage(stopIt: () => void): Promise<{ degraded: boolean; servedDuring: boolean }> {
    stopIt();
    let degraded = false;
    let servedDuring = true;
    const until = Date.now() + OUTAGE_MS;
    try {
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        if ((await readiness()).checkpoints === 'degraded') degraded = true;
        const res = await fetch(`${engine.url}/v1/vehicles/veh-0`, { headers: { authorization: `Bearer ${token}` } });
        if (res.status !== 200) servedDuring = false;
      }
    } finally {
      services('up');
    }
    return { degraded, servedDuring };
  }

  it('keeps processing and serving, shows degraded, then catches up with nothing lost', async () => {
    let redis = { degraded: false, servedDuring: false };
    let postgres = { degraded: false, servedDuring: false };
    await flow(2000);
    await flow(OUTAGE_MS + 1000, async () => { redis = await outage(stopRedis); });
    await flow(2000);
    await flow(OUTAGE_MS + 1000, async () => { postgres = await outage(stopPostgres); });
    await flow(2000);
    assert.ok(redis.degraded && postgres.degraded, 'readyz showed the degraded checkpoints');
    assert.ok(redis.servedDuring && postgres.servedDuring, 'snapshot reads kept working');

    // Every point produced is applied, written to PostgreSQL and mirrored in Redis, without help.
    const deadline = Date.now() + 60_000;
    let positions = 0;
    let redisTs = '';
    let readyAgain = '';
    while (Date.now() < deadline) {
      positions = Number((await dep.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM positions')).rows[0].n);
      redisTs = (await dep.redis.redis.hget(`${dep.redis.prefix}v:veh-0`, 'ts')) ?? '';
      readyAgain = (await readiness()).checkpoints;
      if (positions === sent * VEHICLES && redisTs === String(lastTs) && readyAgain === 'ok') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`# ${sent * VEHICLES} points produced across a 10 s Redis and a 10 s PostgreSQL outage; ${positions} positions stored`);
    assert.equal(positions, sent * VEHICLES, 'every produced point is in PostgreSQL exactly once');
    assert.equal(redisTs, String(lastTs), 'Redis caught up with the latest state');
    assert.equal(readyAgain, 'ok');
  });
});
