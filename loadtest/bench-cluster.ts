/**
 * `npm run bench:cluster`: what a membership change costs a Fleetline cluster. Prints
 *  1. partitions moved per membership change against the ideal (the assignment of
 *     cluster/partition-assigner.ts over 240 partitions, 2–12 nodes, one node added or removed);
 *  2. on the real Kafka, Redis and PostgreSQL of this machine, two nodes in this process: node A
 *     owns 2 partitions of BENCH_HANDOFF_VEHICLES vehicles each; node B joins and one partition
 *     is handed off under a steady load. Prints the hand-off time (A: last checkpoint + stop;
 *     B: epoch + restore), the longest gap between consecutive updates of a vehicle of the moved
 *     partition that a subscriber on A sees, and delivery latency (point sent → delta received
 *     by A's subscriber) for vehicles A owns (same node) and B owns (cross-node, vehicle.live).
 * Numbers, not assertions. The deployment (database, Redis prefix, topic prefix) is its own and
 * is removed afterwards.
 *
 * Environment: BENCH_HANDOFF_VEHICLES (default 50000), BENCH_TRACKED (vehicles under steady
 * load, default 200, each sending every BENCH_TRACKED_MS = 200 ms), KAFKA_BROKERS.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import * as hdr from 'hdr-histogram-js';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { pino } from 'pino';
import WebSocket from 'ws';
import { assignPartitions } from '../cluster/partition-assigner.js';
import { unboundVehicleId } from '../actors/domain/reference-data.js';
import { decodeMsgpack, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { loadConfig } from '../engine/config.js';
import { startNode, type FleetlineNode } from '../engine/fleetline-node.js';
import { BENCH_REDIS_URL, createBenchDatabase, dropBenchDatabase, removeRedisPrefix } from './bench-stores.js';

const VEHICLES = 2 * Number(process.env.BENCH_HANDOFF_VEHICLES ?? 50_000);
const TRACKED = Number(process.env.BENCH_TRACKED ?? 200);
const TRACKED_MS = Number(process.env.BENCH_TRACKED_MS ?? 200);
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const SECRET = randomBytes(24).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function membershipChanges(): void {
  const P = 240;
  console.log(`1. partitions moved per membership change (P = ${P})`);
  console.log('   nodes   add one: moved / ideal   remove one: moved / ideal');
  for (let n = 2; n <= 12; n += 2) {
    const nodes = Array.from({ length: n }, (_, i) => ({ nodeId: `engine-${i + 1}`, weight: 1, owned: [] as number[] }));
    const before = assignPartitions(P, nodes).byNode;
    const claims = (ids: string[]) => ids.map((nodeId) => ({ nodeId, weight: 1, owned: before.get(nodeId) ?? [] }));
    const owner = (m: ReadonlyMap<string, readonly number[]>) => new Map([...m].flatMap(([id, ps]) => ps.map((p) => [p, id] as const)));
    const moved = (after: ReadonlyMap<string, readonly number[]>) => {
      const b = owner(before);
      return [...owner(after)].filter(([p, id]) => b.get(p) !== id).length;
    };
    const added = assignPartitions(P, claims([...nodes.map((x) => x.nodeId), 'engine-new'])).byNode;
    const removed = assignPartitions(P, claims(nodes.slice(1).map((x) => x.nodeId))).byNode;
    console.log(`   ${String(n).padStart(5)}   ${String(moved(added)).padStart(8)} / ${Math.floor(P / (n + 1))}            ${String(moved(removed)).padStart(8)} / ${before.get('engine-1')?.length}`);
  }
}

async function handOff(): Promise<void> {
  const id = randomBytes(5).toString('hex');
  const dbName = `fleetline_bench_${id}`;
  const redisPrefix = `bench:${id}:`;
  const topicPrefix = `bench.${id}.`;
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>); cb(); } });
  const kafka = new Kafka({ brokers: BROKERS, clientId: 'fleetline-bench-cluster', logLevel: logLevel.NOTHING });
  const nodes: FleetlineNode[] = [];
  const dbUrl = await createBenchDatabase(dbName);
  const start = async (nodeId: string) => {
    const config = loadConfig({
      KAFKA_BROKERS: BROKERS.join(','), KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL: BENCH_REDIS_URL, REDIS_PREFIX: redisPrefix, DATABASE_URL: dbUrl,
      TELEMETRY_PARTITIONS: '2', JWT_SECRET: SECRET, NODE_ID: nodeId, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info',
      ACCEPT_UNBOUND_DEVICES: 'true', UNBOUND_DEVICE_LIMIT: String(VEHICLES + 10), PASSIVATE_AFTER_S: '0', CHECKPOINT_INTERVAL_MS: '500',
    });
    const node = await startNode(config, pino({ level: 'info', base: { node: nodeId } }, sink));
    nodes.push(node);
    return node;
  };
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  try {
    console.log(`\n2. hand-off of a partition of ${VEHICLES / 2} vehicles between two nodes (real Kafka, Redis, PostgreSQL)`);
    const a = await start('node-a');
    await producer.connect();
    const t0 = Date.now() - 120_000;
    for (let i = 0; i < VEHICLES; i += 5000) {
      const messages = [];
      for (let d = i; d < Math.min(VEHICLES, i + 5000); d++) messages.push({ key: `dev-${d}`, value: Buffer.from(encodeMsgpack({ deviceId: `dev-${d}`, ts: t0, lat: 52.3 + (d % 1000) / 5000, lon: 13.1 + Math.floor(d / 1000) / 500, speed: 10 })) });
      await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages });
    }
    while (a.index.size < VEHICLES) await sleep(200);
    await sleep(3000); // checkpoints of every vehicle written
    console.log(`   node A holds ${a.supervisor.actors} vehicle actors in 2 partitions`);

    // A subscriber on node A; tracked devices send every TRACKED_MS with ts = send time.
    const token = await a.auth.sign({ role: 'admin', sub: 'bench' }, 600);
    const ws = new WebSocket(`${a.url.replace('http', 'ws')}/v1/stream?token=${token}`);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const seen = new Map<string, number[]>();
    const latency = { same: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 }), cross: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 }) };
    const tracked = Array.from({ length: TRACKED }, (_, i) => `dev-${i}`);
    const trackedIds = new Set(tracked.map(unboundVehicleId));
    let b: FleetlineNode | null = null;
    ws.on('message', (data: Buffer) => {
      const now = Date.now();
      const f = decodeMsgpack(data) as { t: string; u?: { id: string; ts?: number }[] };
      if (f.t !== 'd' || !f.u) return;
      for (const u of f.u) {
        if (!trackedIds.has(u.id) || u.ts === undefined) continue;
        let times = seen.get(u.id);
        if (!times) seen.set(u.id, (times = []));
        times.push(now);
        const owner = b?.supervisor.holds(partitionForKey(u.id.slice(5), 2)) ? 'cross' : 'same';
        latency[owner].recordValue(Math.max(1, now - u.ts));
      }
    });
    ws.send(encodeMsgpack({ t: 'sub' }));
    let running = true;
    const load = (async () => {
      while (running) {
        const ts = Date.now();
        await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages: tracked.map((d, i) => ({ key: d, value: Buffer.from(encodeMsgpack({ deviceId: d, ts, lat: 52.5 + (ts % 100_000) / 1e7, lon: 13.4 + i / 1e4, speed: 30 })) })) });
        await sleep(Math.max(0, TRACKED_MS - (Date.now() - ts)));
      }
    })();
    await sleep(3000);
    const joinAt = Date.now();
    b = await start('node-b');
    while (!(a.supervisor.health.partitions.length === 1 && b.supervisor.health.partitions.length === 1)) await sleep(50);
    const settledAt = Date.now();
    await sleep(4000);
    running = false;
    await load;
    ws.close();

    const moved = b.supervisor.health.partitions[0];
    const released = logs.find((l) => l.node === 'node-a' && l.msg === 'partition released' && l.partition === moved);
    const acquired = logs.find((l) => l.node === 'node-b' && l.msg === 'partition acquired' && l.partition === moved);
    const acquireMs = acquired ? Number(acquired.epochMs) + Number(acquired.loadMs) + Number(acquired.restoreMs) : NaN;
    console.log(`   node B joined; the group settled after ${settledAt - joinAt} ms; partition ${moved} moved to B`);
    console.log(`   hand-off: A released it in ${released?.handOffMs ?? '?'} ms (last checkpoint, stop); B acquired it in ${acquireMs.toFixed(0)} ms (epoch ${acquired?.epochMs} ms, load ${acquired?.loadMs} ms, restore ${acquired?.restoreMs} ms of ${acquired?.restored} vehicles)`);
    let worst = 0;
    let worstId = '';
    for (const [vid, times] of seen) {
      if (partitionForKey(vid.slice(5), 2) !== moved) continue;
      for (let i = 1; i < times.length; i++) if (times[i] >= joinAt - 1000 && times[i] - times[i - 1] > worst) { worst = times[i] - times[i - 1]; worstId = vid; }
    }
    console.log(`   longest gap between consecutive updates of a moved vehicle seen by A's subscriber: ${worst} ms (${worstId}; each sends every ${TRACKED_MS} ms)`);
    for (const [name, h] of Object.entries(latency)) {
      console.log(`   delivery latency, ${name === 'same' ? 'vehicles A owns (same node)' : 'vehicles B owns (cross-node)'}: p50 ${h.getValueAtPercentile(50)} ms, p99 ${h.getValueAtPercentile(99)} ms, max ${h.maxValue} ms, mean ${h.mean.toFixed(1)} ms (${h.totalCount} updates)`);
    }
  } finally {
    await producer.disconnect().catch(() => {});
    for (const n of nodes) await n.close().catch(() => {});
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
    await removeRedisPrefix(redisPrefix);
    await dropBenchDatabase(dbName);
  }
}

membershipChanges();
await handOff();
process.exit(0);
