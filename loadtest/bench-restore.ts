/**
 * `npm run bench:restore` (issue #11): the CPU, collector time and heap of restoring vehicles
 * from their snapshots in this process alone: N snapshots (`N`, default 200,000) written by the
 * engine's own vehicle logic as in bench:infra's part 3, packed, then decoded page by page
 * (1,000 a page, the 24 partitions interleaved, as a node restoring them all at once does) into
 * partition shards (250 at a time, as the supervisor does). No Redis, PostgreSQL or Kafka: the
 * restore's own cost, in seconds instead of bench:infra's minutes. `HEAP_SNAPSHOT=FILE` writes
 * a heap snapshot afterwards.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { start as startActorSystem, stop as stopActor } from 'nact';
import { DeliveryHub } from '../actors/delivery-hub.js';
import { FleetDirectory } from '../actors/fleet-directory.js';
import { PartitionShard } from '../actors/partition-shard.js';
import { SpatialStateIndex } from '../actors/spatial-state-index.js';
import { noMetrics } from '../actors/ports/engine-metrics.js';
import { silentLogger } from '../actors/ports/logger.js';
import { decodeRecordValue } from '../adapters/codec/msgpack-codec.js';
import { packSnapshot, unpackSnapshot } from '../adapters/codec/snapshot-codec.js';
import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { residentSnapshot } from './resident-snapshot.js';

const N = Number(process.env.N ?? 200_000);
const PARTS = 24;
const WINDOW = 16;
const PAGE = 1000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:restore does)');

function bytesOf(n: number, baseTs: number): Buffer {
  const deviceId = `dev-${n}`;
  return packSnapshot(residentSnapshot(n, partitionForKey(deviceId, PARTS), baseTs, WINDOW));
}

const baseTs = Date.now() - 3_600_000;
const byPart: Buffer[][] = Array.from({ length: PARTS }, () => []);
for (let n = 1; n <= N; n++) byPart[partitionForKey(`dev-${n}`, PARTS)].push(bytesOf(n, baseTs));
const system = startActorSystem();
const index = new SpatialStateIndex();
const directory = new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: Number.POSITIVE_INFINITY });
const shards = byPart.map((_, p) => new PartitionShard(p, 1, { system, directory, index, hub: new DeliveryHub(), metrics: noMetrics, decodeRecord: decodeRecordValue, logger: silentLogger }));
gc();
const heapBefore = process.memoryUsage().heapUsed;
let gcMs = 0;
let gcN = 0;
const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) { gcMs += e.duration; gcN++; } });
obs.observe({ entryTypes: ['gc'] });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const s of shards) s.beginRestore();
// Partitions interleaved page by page, as a node restoring all at once does.
for (let off = 0; ; off += PAGE) {
  let any = false;
  for (let p = 0; p < PARTS; p++) {
    const bytes = byPart[p];
    if (off >= bytes.length) continue;
    any = true;
    const page = bytes.slice(off, off + PAGE).map((b) => unpackSnapshot(b));
    for (let i = 0; i < page.length; i += 250) shards[p].restore(page.slice(i, i + 250));
  }
  await new Promise((r) => setImmediate(r));
  if (!any) break;
}
for (const s of shards) s.endRestore();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
await new Promise((r) => setTimeout(r, 50));
obs.disconnect();
gc();
const heap = process.memoryUsage().heapUsed - heapBefore;
const restored = shards.reduce((a, s) => a + s.size, 0);
console.log(`restore of ${restored} snapshots: wall ${(wall / 1000).toFixed(2)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s = ${((cpu.user + cpu.system) / restored).toFixed(1)} µs/vehicle, GC ${(gcMs / 1000).toFixed(2)} s (${gcN}), heap ${Math.round(heap / restored)} B/vehicle, index ${index.size}`);
if (process.env.HEAP_SNAPSHOT) writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
stopActor(system);
