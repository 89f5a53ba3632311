/**
 * `npm run bench:cluster`: what a membership change costs a Fleetline cluster. Prints
 *  1. partitions moved per membership change against the ideal (the assignment of
 *     cluster/partition-assigner.ts over 240 partitions, 2–12 nodes, one node added or removed);
 *  2. on the real Kafka, Redis and PostgreSQL of this machine, two engine nodes, each in a process
 *     of its own as in a deployment (in one process, B's restore stalled A's event loop and the
 *     measured gap with it): node A owns 2 partitions of BENCH_HANDOFF_VEHICLES vehicles each;
 *     node B starts and one partition is handed off under a steady load. Prints the hand-off
 *     time (A: last checkpoint + stop; B: epoch, restore), the longest gap between consecutive
 *     updates that a subscriber on A sees, for the vehicles of the moved partition (their
 *     updates come from A's actors, then from B's through vehicle.live) and for those A kept
 *     (the eager rebalance pauses them too), a timeline of the hand-off from the nodes' logs,
 *     and delivery latency (point sent → delta received by A's subscriber) for vehicles A owns
 *     (same node) and B owns (cross-node). A subscriber on a third node would see the same
 *     gap: its end is B's first change reaching the replicas.
 * Numbers, not assertions. The deployment (database, Redis prefix, topic prefix) is its own and
 * is removed afterwards.
 *
 * Environment: BENCH_HANDOFF_VEHICLES (default 50000), BENCH_TRACKED (vehicles under steady
 * load, default 200, each sending every BENCH_TRACKED_MS = 200 ms), KAFKA_BROKERS, and
 * BENCH_LOG_DIR (writes each node's log lines there), BENCH_CPU_PROF_DIR (each node writes V8
 * CPU profiles, one per thread, to a folder of its own there when it stops: `--cpu-prof`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import WebSocket from 'ws';
import { assignPartitions } from '../cluster/partition-assigner.js';
import { unboundVehicleId } from '../actors/domain/reference-data.js';
import { decodeMsgpack, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { JwtAuth } from '../engine/auth.js';
import type { ShardMap } from '../cluster/shard-map.js';
import { BENCH_REDIS_URL, createBenchDatabase, dropBenchDatabase, removeRedisPrefix } from './bench-stores.js';
import { ENGINE_NODE_FLAGS } from '../engine/node-flags.js';

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

/** An engine node in a process of its own (a node of a real deployment): its JSON log lines, its port. */
class NodeProcess {
  readonly logs: Record<string, unknown>[] = [];
  port = 0;
  private readonly child: ChildProcess;

  constructor(readonly nodeId: string, env: Record<string, string>) {
    const main = fileURLToPath(new URL('../engine/main.ts', import.meta.url));
    const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}/${nodeId}`] : [];
    this.child = spawn(process.execPath, [...ENGINE_NODE_FLAGS, ...profile, '--import', 'tsx', main], { env: { ...process.env, ...env, NODE_ID: nodeId }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    this.child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        this.logs.push(entry);
        if (entry.msg === 'fleetline node listening') this.port = Number(entry.port);
      }
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  find(msg: string, where: (l: Record<string, unknown>) => boolean = () => true): Record<string, unknown> | undefined {
    return this.logs.find((l) => l.msg === msg && where(l));
  }

  async until(msg: string, where?: (l: Record<string, unknown>) => boolean, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.find(msg, where);
      if (l) return l;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.nodeId}: no "${msg}" (exit ${this.child.exitCode})`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Longest gap between consecutive receptions, per vehicle, among updates received after `from`. */
function longestGap(seen: ReadonlyMap<string, number[]>, which: (vehicleId: string) => boolean, from: number): { ms: number; id: string; end: number } {
  let worst = { ms: 0, id: '', end: NaN };
  for (const [vid, times] of seen) {
    if (!which(vid)) continue;
    for (let i = 1; i < times.length; i++) if (times[i] >= from && times[i] - times[i - 1] > worst.ms) worst = { ms: times[i] - times[i - 1], id: vid, end: times[i] };
  }
  return worst;
}

async function handOff(): Promise<void> {
  const id = randomBytes(5).toString('hex');
  const dbName = `fleetline_bench_${id}`;
  const redisPrefix = `bench:${id}:`;
  const topicPrefix = `bench.${id}.`;
  const kafka = new Kafka({ brokers: BROKERS, clientId: 'fleetline-bench-cluster', logLevel: logLevel.NOTHING });
  const nodes: NodeProcess[] = [];
  const dbUrl = await createBenchDatabase(dbName);
  const env: Record<string, string> = {
    KAFKA_BROKERS: BROKERS.join(','), KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL: BENCH_REDIS_URL, REDIS_PREFIX: redisPrefix, DATABASE_URL: dbUrl,
    TELEMETRY_PARTITIONS: '2', JWT_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', FLEETLINE_MODE: 'production',
    ACCEPT_UNBOUND_DEVICES: 'true', UNBOUND_DEVICE_LIMIT: String(VEHICLES + 10), PASSIVATE_AFTER_S: '0', CHECKPOINT_INTERVAL_MS: '500',
    // The tracked devices start their live trace far from where the fill left them (and wrap every
    // 100 s): the impossible-jump filter would drop every live point, leaving nothing to time.
    DOMAIN_SETTINGS: JSON.stringify({ filterMaxSpeedKmh: 0 }),
  };
  const start = (nodeId: string) => {
    const node = new NodeProcess(nodeId, env);
    nodes.push(node);
    return node;
  };
  const auth = new JwtAuth(SECRET);
  const admin = { authorization: `Bearer ${await auth.sign({ role: 'admin', sub: 'bench' }, 600)}` };
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  // Every update A's subscriber received (written to BENCH_LOG_DIR/received.json).
  const receivedLog: { id: string; at: number; latency: number }[] = [];
  try {
    console.log(`\n2. hand-off of a partition of ${VEHICLES / 2} vehicles between two nodes, each in a process of its own (real Kafka, Redis, PostgreSQL)`);
    const a = start('node-a');
    await a.until('fleetline node ready');
    await producer.connect();
    const t0 = Date.now() - 120_000;
    for (let i = 0; i < VEHICLES; i += 5000) {
      const messages = [];
      for (let d = i; d < Math.min(VEHICLES, i + 5000); d++) messages.push({ key: `dev-${d}`, value: Buffer.from(encodeMsgpack({ deviceId: `dev-${d}`, ts: t0, lat: 52.3 + (d % 1000) / 5000, lon: 13.1 + Math.floor(d / 1000) / 500, speed: 10 })) });
      await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages });
    }
    // Every point applied and committed (so every vehicle's snapshot is written).
    for (;;) {
      // A node busy with its first checkpoint may answer with an error (the group inspection timed out).
      const map = await (await fetch(`${a.url}/v1/admin/cluster`, { headers: admin })).json().catch(() => ({})) as Partial<ShardMap>;
      if (map.partitions?.length === 2 && map.partitions.every((p) => p.committed === p.end && p.end > 0)) break;
      await sleep(500);
    }
    console.log(`   node A holds ${VEHICLES} vehicles in 2 partitions, every snapshot written`);

    // A subscriber on node A; tracked devices send every TRACKED_MS with ts = send time.
    const ws = new WebSocket(`${a.url.replace('http', 'ws')}/v1/stream?token=${admin.authorization.slice(7)}`);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const seen = new Map<string, number[]>();
    const received: { id: string; at: number; latency: number }[] = receivedLog;
    const tracked = Array.from({ length: TRACKED }, (_, i) => `dev-${i}`);
    const trackedIds = new Set(tracked.map(unboundVehicleId));
    // What the subscriber got, by frame type, and how its connection ended: a run whose
    // subscriber saw nothing says so instead of printing empty latencies.
    const frames = new Map<string, number>();
    let closed: string | null = null;
    ws.on('close', (code: number, reason: Buffer) => { closed = `${code} ${reason.toString()}`; });
    ws.on('message', (data: Buffer) => {
      const now = Date.now();
      const f = decodeMsgpack(data) as { t: string; u?: { id: string; ts?: number }[]; code?: string; msg?: string };
      frames.set(f.t, (frames.get(f.t) ?? 0) + 1);
      if (f.t === 'err') console.log(`   subscriber error: ${f.code} ${f.msg}`);
      if (f.t !== 'd' || !f.u) return;
      for (const u of f.u) {
        if (!trackedIds.has(u.id) || u.ts === undefined) continue;
        let times = seen.get(u.id);
        if (!times) seen.set(u.id, (times = []));
        times.push(now);
        received.push({ id: u.id, at: now, latency: Math.max(1, now - u.ts) });
      }
    });
    ws.send(encodeMsgpack({ t: 'sub' }));
    let running = true;
    // The load's own longest pause (a send the broker held, this process stalled): a gap that
    // long says nothing about the engine.
    const sends: number[] = [];
    const load = (async () => {
      while (running) {
        const ts = Date.now();
        sends.push(ts);
        await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages: tracked.map((d, i) => ({ key: d, value: Buffer.from(encodeMsgpack({ deviceId: d, ts, lat: 52.5 + (ts % 100_000) / 1e7, lon: 13.4 + i / 1e4, speed: 30 })) })) });
        await sleep(Math.max(0, TRACKED_MS - (Date.now() - ts)));
      }
    })();
    await sleep(3000);
    const joinAt = Date.now();
    const b = start('node-b');
    const revokedOnA = await a.until('kafka partition assignment changed', (l) => Array.isArray(l.revoked) && l.revoked.length > 0);
    const moved = (revokedOnA.revoked as number[])[0];
    const released = await a.until('partition released', (l) => l.partition === moved);
    const acquired = await b.until('partition acquired', (l) => l.partition === moved);
    // Nodes that apply points while restoring log the end of the restore apart.
    const restored = acquired.loadMs === undefined ? await b.until('partition restored', (l) => l.partition === moved) : acquired;
    const readyAt = Number((await b.until('fleetline node ready')).time);
    const settledAt = Math.max(...[released, acquired, restored].map((l) => Number(l.time)));
    await sleep(6000);
    running = false;
    await load;
    ws.close();

    const movedAt = Number(revokedOnA.time);
    const isMoved = (vid: string) => partitionForKey(vid.slice(5), 2) === moved;
    console.log(`   node B started; partition ${moved} moved to B; the hand-off was complete ${settledAt - joinAt} ms after B's start (B's start up, joining the group included)`);
    const took = (l: Record<string, unknown>) => `load ${l.loadMs} ms, restore ${l.restoreMs} ms of ${l.restored} vehicles`;
    console.log(restored === acquired
      ? `   hand-off: A released it in ${released.handOffMs} ms (last checkpoint, stop); B acquired it in ${(Number(acquired.epochMs) + Number(acquired.loadMs) + Number(acquired.restoreMs)).toFixed(0)} ms (epoch ${acquired.epochMs} ms, ${took(acquired)}) before applying its points`
      : `   hand-off: A released it in ${released.handOffMs} ms (last checkpoint, stop); B ${acquired.waitMs === undefined ? '' : `waited ${acquired.waitMs} ms for A's release (${acquired.previousOwner}), `}took its epoch in ${acquired.epochMs} ms and applied its points from then on; its snapshots were restored beside them in ${restored.totalMs} ms (${took(restored)})`);
    const fenced = a.find('snapshot write fenced: partition lost to another owner', (l) => l.partition === moved);
    console.log(`   A's last checkpoint of partition ${moved}: ${fenced ? 'fenced (B took the epoch first; B restores from PostgreSQL)' : 'written (then A marked Redis complete for B)'}`);
    const gap = longestGap(seen, isMoved, joinAt - 1000);
    const kept = longestGap(seen, (vid) => !isMoved(vid), joinAt - 1000);
    console.log(`   A's subscriber received ${[...frames].map(([t, n]) => `${n} ${t}`).join(', ') || 'no frame'}${closed !== null ? `; its connection was closed: ${closed}` : ''}`);
    console.log(`   longest gap between consecutive updates seen by A's subscriber (each vehicle sends every ${TRACKED_MS} ms): moved vehicles ${gap.ms} ms (${gap.id}), vehicles A kept ${kept.ms} ms (${kept.id})`);
    let sendGap = { ms: 0, end: 0 };
    for (let i = 1; i < sends.length; i++) if (sends[i] >= joinAt - 1000 && sends[i] - sends[i - 1] > sendGap.ms) sendGap = { ms: sends[i] - sends[i - 1], end: sends[i] };
    console.log(`   longest pause of the load itself (between two sends of the bench's producer, due every ${TRACKED_MS} ms): ${sendGap.ms} ms, ending ${sendGap.end - joinAt} ms after B's start`);
    const marks: [number, string][] = [[gap.end - gap.ms, `gap of ${gap.id} starts`], [gap.end, `gap of ${gap.id} ends`]];
    const shown = new Set(['kafka partition assignment changed', 'partition released', 'partition acquired', 'partition restored', 'fleet replica filled from the durable snapshots', 'fleetline node ready', 'The group is rebalancing, re-joining', 'fleetline node listening']);
    for (const n of nodes) for (const l of n.logs) if (shown.has(String(l.msg)) && Number(l.time) >= joinAt) marks.push([Number(l.time), `${n.nodeId}: ${String(l.msg)}`]);
    console.log('   timeline (ms after node B was started):');
    for (const [t, what] of marks.sort((x, y) => x[0] - y[0])) console.log(`   ${String(t - joinAt).padStart(7)}  ${what}`);
    const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
    // Over the whole run, and apart: before B's start, from it to B ready (hand-off, restore,
    // replica fill), after B ready (the steady state of two nodes).
    const windows = ['whole run', 'before B', 'hand-off', 'after'] as const;
    const latency = { same: windows.map(histogram), cross: windows.map(histogram) };
    for (const r of received) {
      const which = latency[isMoved(r.id) && r.at > movedAt ? 'cross' : 'same'];
      which[0].recordValue(r.latency);
      which[r.at < joinAt ? 1 : r.at <= readyAt ? 2 : 3].recordValue(r.latency);
    }
    const show = (h: ReturnType<typeof histogram>) => h.totalCount === 0 ? '-' : `${h.getValueAtPercentile(50)}/${h.getValueAtPercentile(99)}/${h.maxValue} (${h.totalCount})`;
    for (const [name, hs] of Object.entries(latency)) {
      const h = hs[0];
      console.log(`   delivery latency, ${name === 'same' ? 'vehicles A owns (same node)' : 'vehicles B owns (cross-node)'}: p50 ${h.getValueAtPercentile(50)} ms, p99 ${h.getValueAtPercentile(99)} ms, max ${h.maxValue} ms, mean ${h.mean.toFixed(1)} ms (${h.totalCount} updates)`);
      console.log(`     p50/p99/max ms (updates): before B's start ${show(hs[1])}; B's start → B ready ${show(hs[2])}; after B ready ${show(hs[3])}`);
    }
  } finally {
    await producer.disconnect().catch(() => {});
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    if (process.env.BENCH_LOG_DIR) writeFileSync(`${process.env.BENCH_LOG_DIR}/received.json`, JSON.stringify(receivedLog));
    if (process.env.BENCH_LOG_DIR) for (const n of nodes) writeFileSync(`${process.env.BENCH_LOG_DIR}/${n.nodeId}.log`, n.logs.map((l) => JSON.stringify(l)).join('\n'));
    const kadmin = kafka.admin();
    await kadmin.connect();
    const topics = (await kadmin.listTopics()).filter((t) => t.startsWith(topicPrefix));
    if (topics.length > 0) await kadmin.deleteTopics({ topics }).catch(() => {});
    await kadmin.disconnect();
    await removeRedisPrefix(redisPrefix);
    await dropBenchDatabase(dbName);
  }
}

membershipChanges();
await handOff();
process.exit(0);
