import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { consistentHashAssigner } from '../../adapters/kafka/consistent-hash-assigner.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { createRealDeployment, seedReference, TEST_KAFKA_BROKERS, type RealDeployment } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

const PARTITIONS = 4;
const VEHICLES = 12;

/** PostgreSQL refuses every partition acquire while this trigger exists (a real server error). */
const BREAK_ACQUIRE = `
CREATE OR REPLACE FUNCTION refuse_acquire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'acquire refused (test: PostgreSQL unavailable)'; END $$;
CREATE TRIGGER refuse_acquire BEFORE INSERT OR UPDATE ON partition_epochs FOR EACH ROW EXECUTE FUNCTION refuse_acquire();`;

async function until(cond: () => boolean | Promise<boolean>, what: string, tries = 600): Promise<void> {
  for (let i = 0; i < tries && !(await cond()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(await cond(), what);
}

describe('#7.4 PostgreSQL refuses the acquire during a Kafka rebalance (real Kafka + PostgreSQL)', () => {
  let dep: RealDeployment;
  let node: FleetlineNode | undefined;
  let intruder: Consumer | undefined;
  before(async () => {
    dep = await createRealDeployment(PARTITIONS);
    await seedReference(dep.db, [{ id: 'A' }], Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` })));
    const { KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, DATABASE_URL } = dep.env;
    node = await startTestNode({ KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, DATABASE_URL, TELEMETRY_PARTITIONS: String(PARTITIONS) });
  });
  after(async () => {
    await intruder?.disconnect().catch(() => {});
    await node?.close();
    await dep?.cleanup();
  });

  it('#7.4 the partitions that come back while acquire fails are retried, and their batches applied once it succeeds', async () => {
    const n = node!;
    const phases = () => [...n.supervisor.phases().values()];
    assert.deepEqual(phases(), Array(PARTITIONS).fill('active'));
    await dep.db.pool.query(BREAK_ACQUIRE);

    // Another member joins the group: the node gives some partitions up...
    const kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'rebalance-test', logLevel: logLevel.NOTHING });
    // It speaks the engine's assignment protocol: a group only admits members that share one.
    intruder = kafka.consumer({
      groupId: `${dep.topicPrefix}fleetline-engine`, sessionTimeout: 10_000,
      partitionAssigners: [consistentHashAssigner({ nodeId: 'intruder', weight: () => 1, owned: () => [] }, silentLogger)],
    });
    await intruder.connect();
    await intruder.subscribe({ topic: dep.topic('telemetry.raw') });
    await intruder.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
    await until(() => n.supervisor.phases().size < PARTITIONS, 'a rebalance took partitions away');
    // ... and leaves: they come back while PostgreSQL refuses to hand out epochs.
    await intruder.disconnect();
    intruder = undefined;
    await until(() => n.supervisor.phases().size === PARTITIONS && phases().includes('retrying-acquire'), 'the returned partitions wait in retrying-acquire');
    const waiting = [...n.supervisor.phases()].filter(([, ph]) => ph === 'retrying-acquire').map(([p]) => p);

    const headers = await adminHeaders();
    const ts = Date.now() - 5_000;
    const res = await postJson(`${n.url}/v1/telemetry`, Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `dev-${i}`, ts, lat: 50 + i / 100, lon: 13 })), headers);
    assert.equal(res.status, 202);
    const inWaiting = Array.from({ length: VEHICLES }, (_, i) => i).filter((i) => waiting.includes(partitionForKey(`dev-${i}`, PARTITIONS)));
    assert.ok(inWaiting.length > 0, 'some vehicles live in the partitions that wait');
    await new Promise((r) => setTimeout(r, 1000));
    for (const i of inWaiting) assert.equal(n.index.get(`veh-${i}`)?.ts, undefined, `veh-${i} waits for its partition`);

    await dep.db.pool.query('DROP TRIGGER refuse_acquire ON partition_epochs');
    await until(() => phases().every((p) => p === 'active'), 'every partition is acquired again');
    await until(() => Array.from({ length: VEHICLES }, (_, i) => n.index.get(`veh-${i}`)?.ts === ts).every(Boolean), 'every vehicle is applied, the waiting ones too');
  });
});
