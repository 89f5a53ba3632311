/**
 * `npx tsx loadtest/bench-output-publish.ts [--views 20000] [--rounds 10] [--codec gzip]`: how fast
 * the node's Kafka log publishes vehicle.updates, against the real broker. Each round publishes
 * every vehicle's view once (MessagePack), as four checkpoints side by side would (the views split
 * in 4 publishes of one turn), and waits for the acks; prints records/s, the node's CPU per
 * record. `--home`: each of the four publishes goes to one partition, as a node's views do when
 * its vehicles are bound (a vehicle lives in the partition its id hashes to, and its views are
 * keyed by that id). Topic bench.<random>.vehicle.updates (24 partitions), deleted at the end.
 * Numbers, not assertions.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { KafkaLog, type KafkaCompression } from '../adapters/kafka/kafka-log.js';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { applyPoint, newVehicleState } from '../actors/vehicle-logic.js';
import { DEFAULT_SETTINGS } from '../actors/domain/domain-settings.js';
import type { VehicleEvent } from '../actors/domain/vehicle-event.js';
import type { VehicleView } from '../actors/domain/vehicle-state.js';

const { values } = parseArgs({ options: { views: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '10' }, codec: { type: 'string', default: 'gzip' }, home: { type: 'boolean', default: false } } });
const VIEWS = Number(values.views);
const ROUNDS = Number(values.rounds);
const CODEC = values.codec as KafkaCompression;
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

const sim = new RouteSimulator({ devices: VIEWS, seed: 7 });
const states = new Map<string, ReturnType<typeof newVehicleState>>();
const events: VehicleEvent[] = [];
const t0 = Date.now() - 600_000;
for (let round = 0; round < 5; round++) {
  for (const p of sim.tick(t0 + round * 1000)) {
    let st = states.get(p.deviceId);
    if (!st) states.set(p.deviceId, (st = newVehicleState({ vehicleId: `veh-${p.deviceId}`, company: 'acme', name: p.deviceId, speedLimit: 90, settings: DEFAULT_SETTINGS }, p.deviceId, 0)));
    applyPoint(st, p, events);
  }
}
const views = [...states.values()].map((s) => s.view).filter((v): v is VehicleView => v !== null);

const topic = `bench.${randomBytes(5).toString('hex')}.vehicle.updates`;
const log = new KafkaLog({ brokers: BROKERS, clientId: 'fleetline-bench-publish', log: pino({ level: 'warn' }), compression: CODEC, replicationFactor: 1 });
await log.ensureTopics([{ name: topic, partitions: 24 }]);
await log.publish(topic, [{ key: 'warm-up', value: encodeMsgpack(views[0]) }]);
const quarter = Math.ceil(views.length / 4);
const cpu = process.cpuUsage();
const started = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  await Promise.all([0, 1, 2, 3].map((q) => log.publish(topic, views.slice(q * quarter, (q + 1) * quarter).map((v) => ({ key: v.id, value: encodeMsgpack(v), ...(values.home ? { partition: q } : {}) })))));
}
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const n = ROUNDS * views.length;
console.log(`${CODEC}${values.home ? ' (each publish to one partition)' : ''}: ${n} records (${views.length} views × ${ROUNDS} rounds) in ${(ms / 1000).toFixed(2)} s = ${Math.round(n / ms * 1000)}/s; ` +
  `CPU ${((used.user + used.system) / n).toFixed(1)} µs per record (this process); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const { Kafka } = await import('kafkajs');
const admin = new Kafka({ brokers: BROKERS, clientId: 'fleetline-bench-publish-admin' }).admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
await log.close();
