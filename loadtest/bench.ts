import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { pino } from 'pino';
import WebSocket from 'ws';
import { decodeMsgpack, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';
import { newVehicleState, RECENT_WINDOW, type VehicleState } from '../actors/vehicle-logic.js';
import { VehicleBehaviour, type VehicleOutbox } from '../actors/vehicle-actor.js';
import { DEFAULT_SETTINGS, resolveSettings } from '../actors/domain/domain-settings.js';
import type { TelemetryPoint } from '../actors/domain/telemetry-point.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { ShardHarness } from './shard-harness.js';
import { geofencePointCost } from './bench-geofences.js';
import { appliedFromBus } from './bench-apply.js';
import { Packr } from 'msgpackr';

/**
 * `npm run bench`: prints
 *  1. points/s one node accepts through POST /v1/telemetry on the embedded default, and how
 *     fast its vehicle actors apply them;
 *  2. end-to-end latency: POST /v1/telemetry → the `d` frame on a subscribed WebSocket,
 *     p50/p99/max over a few hundred points sent one at a time;
 *  3. heap per resident vehicle actor at 100k vehicles (actor + state + index entry);
 *  4. the cost of encoding a `d` frame, against plain msgpackr (which writes ts as float64);
 *  5. the per-point cost inside the vehicle actor (filters, motion, trips and stops, events),
 *     one point per message as live traffic arrives, without nact's mailbox.
 *  6. the per-point cost of geofences in the vehicle actor (loadtest/bench-geofences.ts).
 * BENCH_ONLY=apply (npm run bench:apply): points/s the actors apply from a pre-filled embedded
 * bus (loadtest/bench-apply.ts), on its own: it holds a million points in memory.
 * Numbers, not assertions: run it on the machine you want to know about.
 */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 20_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const RESIDENT = Number(process.env.BENCH_RESIDENT ?? 100_000);
const LATENCY_POINTS = Number(process.env.BENCH_LATENCY_POINTS ?? 500);
const LATENCY_WARMUP = 20;
const LATENCY_CLIENT = '--latency-client';

async function httpIntake(): Promise<void> {
  // The simulated devices have no reference data: unbound devices, admitted explicitly, posted with an admin credential.
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', JWT_SECRET: 'bench-secret-0123456789', LOG_LEVEL: 'warn', TRANSPORT: process.env.TRANSPORT ?? 'auto',
    ACCEPT_UNBOUND_DEVICES: 'true', UNBOUND_DEVICE_LIMIT: String(Math.max(DEVICES, 10_000)),
  });
  const node = await startNode(config, pino({ level: 'warn' }));
  const token = await node.auth.sign({ role: 'admin', sub: 'bench' });
  // The client runs in its own process: on the same event loop it would halve what is measured.
  const job = JSON.stringify({ port: node.port, token, devices: DEVICES, seconds: SECONDS, batch: BATCH, concurrency: CONCURRENCY });
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./http-load-client.ts', import.meta.url)), job], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load client exited with ${code}`);
  const result = JSON.parse(out) as { sent: number; seconds: number; startedAt: number };
  const metric = async () => Number(/fleetline_points_accepted_total\{[^}]*\} (\d+)/.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);
  while ((await metric()) < result.sent) await new Promise((r) => setTimeout(r, 20));
  const appliedSeconds = (Date.now() - result.startedAt) / 1000;
  await node.close();
  console.log(`HTTP intake (${node.transport}, MessagePack, ${BATCH} points/request, ${CONCURRENCY} connections from a client process, ${DEVICES} devices):`);
  console.log(`  acknowledged (202): ${result.sent} points in ${result.seconds.toFixed(2)} s = ${Math.round(result.sent / result.seconds)} points/s`);
  console.log(`  applied by vehicle actors: ${Math.round(result.sent / appliedSeconds)} points/s (all applied ${appliedSeconds.toFixed(2)} s after the first request)`);
}

interface LatencyJob { url: string; token: string; vehicleId: string; deviceId: string; points: number; warmup: number }
interface LatencyResult { count: number; p50: number; p90: number; p99: number; max: number; mean: number }

/**
 * The node under test in this process, the client in another (as for intake): it subscribes to
 * one vehicle and POSTs one point at a time, each sent once the previous one's delta arrived, so
 * every figure is one point's way through intake, the log, the vehicle actor, the subscriber's
 * flush timer (WS_FLUSH_MS) and the socket.
 */
async function endToEndLatency(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetline-bench-'));
  const fleetFile = join(dir, 'fleet.json');
  const vehicleId = 'bench-vehicle';
  const deviceId = 'bench-device';
  writeFileSync(fleetFile, JSON.stringify({
    companies: [{ id: 'bench', name: 'Bench', active: true }],
    vehicles: [{ id: vehicleId, companyId: 'bench', name: 'Bench vehicle' }],
    devices: [{ deviceId, vehicleId }],
  }));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: 'bench-secret-0123456789', LOG_LEVEL: 'warn', FLEET_FILE: fleetFile,
    TRANSPORT: process.env.TRANSPORT ?? 'auto', ...(process.env.WS_FLUSH_MS ? { WS_FLUSH_MS: process.env.WS_FLUSH_MS } : {}),
  });
  const node = await startNode(config, pino({ level: 'warn' }));
  const token = await node.auth.sign({ role: 'admin' });
  const job: LatencyJob = { url: node.url, token, vehicleId, deviceId, points: LATENCY_POINTS, warmup: LATENCY_WARMUP };
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), LATENCY_CLIENT, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await node.close();
  if (code !== 0) throw new Error(`latency client exited with ${code}`);
  const r = JSON.parse(out) as LatencyResult;
  const ms = (us: number) => (us / 1000).toFixed(1);
  console.log(`End-to-end latency, POST /v1/telemetry → WebSocket d frame (${node.transport}, WS_FLUSH_MS=${config.wsFlushMs}, ${r.count} points one at a time, client in its own process):`);
  console.log(`  p50 ${ms(r.p50)} ms, p90 ${ms(r.p90)} ms, p99 ${ms(r.p99)} ms, max ${ms(r.max)} ms, mean ${ms(r.mean)} ms (includes the flush interval)`);
}

/** The client side of endToEndLatency (run as `bench.ts --latency-client JOB`): prints a LatencyResult as JSON. */
async function latencyClient(job: LatencyJob): Promise<void> {
  const ws = new WebSocket(`${job.url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(job.token)}`);
  ws.binaryType = 'nodebuffer';
  let waiting: { pred: (f: Record<string, unknown>) => boolean; resolve: () => void } | null = null;
  ws.on('message', (data: Buffer) => {
    const frame = decodeMsgpack(data) as Record<string, unknown>;
    if (waiting?.pred(frame)) {
      const w = waiting;
      waiting = null;
      w.resolve();
    }
  });
  const frame = (pred: (f: Record<string, unknown>) => boolean, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within 10 s`)), 10_000);
    waiting = { pred, resolve: () => { clearTimeout(timer); resolve(); } };
  });
  const ready = frame((f) => f.t === 'ready', 'ready frame');
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  await ready;
  const snap = frame((f) => f.t === 'snap', 'snap frame');
  ws.send(encodeMsgpack({ t: 'sub', vehicles: [job.vehicleId] }));
  await snap;

  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const headers = { 'content-type': 'application/msgpack', authorization: `Bearer ${job.token}` };
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < job.warmup + job.points; i++) {
    const lat = 52.5 + i * 1e-5;
    const delta = frame((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === job.vehicleId && u.lat === lat), `d frame for point ${i}`);
    const started = performance.now();
    const res = fetch(`${job.url}/v1/telemetry`, { method: 'POST', headers, body: Buffer.from(encodeMsgpack({ deviceId: job.deviceId, ts: base + i * 1000, lat, lon: 13.4, speed: 30 })) });
    await delta;
    const micros = Math.round((performance.now() - started) * 1000);
    const status = (await res).status;
    if (status !== 202) throw new Error(`POST answered ${status}`);
    if (i >= job.warmup) histogram.recordValue(micros);
  }
  ws.close();
  const result: LatencyResult = {
    count: histogram.totalCount, p50: histogram.getValueAtPercentile(50), p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99), max: histogram.maxValue, mean: histogram.mean,
  };
  process.stdout.write(JSON.stringify(result));
}

async function heapPerActor(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench does)');
  const harness = new ShardHarness(new Array<number>(24).fill(1));
  gc();
  const before = process.memoryUsage().heapUsed;
  const sim = new RouteSimulator({ devices: RESIDENT, seed: 3 });
  const now = Date.now() - 3_600_000;
  // Enough rounds to fill every vehicle's recent-points window: the steady state, not a fresh actor.
  for (let round = 0; round < RECENT_WINDOW + 1; round++) {
    await harness.drive(sim.tick(now + round * 1000), (i) => i % 24);
    for (const s of harness.shards) s.takeCheckpoint();
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  const resident = harness.size;
  console.log(`Heap per resident vehicle actor: ${Math.round((after - before) / resident)} bytes at ${resident} vehicles ` +
    `(nact actor, state with a full ${RECENT_WINDOW}-point window, view, spatial index entry; heap ${(after / 2 ** 20).toFixed(0)} MiB)`);
  harness.stop();
}

/** A 200-vehicle `d` frame, encoded by the codec (integers as ints) and by msgpackr alone, same run. */
function frameEncoding(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const ts = Date.now();
  const frame = { t: 'd', seq: 123_456, u: Array.from({ length: 200 }, (_, i) => ({ id: `veh-${i}`, lat: 52.5 + i / 1e4, lon: 13.4 + i / 1e4, ts: ts + i, speed: 31.5, course: 90.5 })) };
  const plain = new Packr({ useRecords: false, encodeUndefinedAsNil: true, mapsAsObjects: true, moreTypes: false, bundleStrings: false, int64AsType: 'number' });
  const ROUNDS = 20_000;
  const measure = (name: string, encode: (v: unknown) => Uint8Array): void => {
    for (let i = 0; i < 2000; i++) encode(frame);
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < ROUNDS; i++) bytes += encode(frame).byteLength;
    const ms = performance.now() - t0;
    const heap = process.memoryUsage().heapUsed - heap0;
    console.log(`  ${name}: ${(ms * 1000 / ROUNDS).toFixed(1)} µs/frame, ${bytes / ROUNDS} bytes/frame, heap growth ${Math.round(heap / ROUNDS)} bytes/frame (no GC in between)`);
  };
  console.log('Encoding a d frame of 200 vehicle deltas:');
  measure('msgpackr alone (ts as float64)', (v) => plain.pack(v));
  measure('encodeMsgpack (ts as uint64)  ', encodeMsgpack);
}

/**
 * The vehicle actor's handler on its own: 1,000 vehicles driving and stopping (trips, stops,
 * overspeed, fuel and ignition attributes), one point per message, through a no-op outbox.
 * Three runs side by side: without the reorder window (reorderWindowS 0), with the default
 * window and every point in order, and with the default window and every 50th point arriving
 * after its successor (each such point rewinds the window).
 */
function actorPointCost(): void {
  const VEHICLES = 1000;
  const ROUNDS = Number(process.env.BENCH_ACTOR_ROUNDS ?? 600);
  const t0 = Date.UTC(2026, 0, 12, 6);
  const completion = { done() {} };
  // Each vehicle drives 5 minutes at 40-100 km/h, then stands 4 minutes, with jitter; 10 s per point.
  const point = (v: number, round: number): TelemetryPoint => {
    const phase = round % 54;
    const driving = phase < 30;
    const north = Math.floor(round / 54) * 30 * 250 + Math.min(phase, 30) * 250 + (driving ? 0 : Math.sin(round * 7 + v) * 8);
    return {
      deviceId: `dev-${v}`, ts: t0 + round * 10_000, lat: 48 + v * 0.01 + north / 111_195, lon: 11 + (driving ? 0 : Math.cos(round * 3 + v) * 1e-4),
      speed: driving ? 40 + ((round * 13 + v) % 60) : 0, ignition: driving || phase < 40, fuel: 60 - round * 0.01 + (v % 3),
    };
  };
  const measure = (label: string, windowS: number, swapEvery: number): void => {
    const outbox: VehicleOutbox = { accepted() {}, rejected() {}, changed() {}, events() {}, segments() {}, watch() {}, crashed: async () => {} };
    const behaviour = new VehicleBehaviour(outbox);
    // A window of 12 s holds the point before (10 s apart): a swapped pair is reordered, not late.
    const settings = resolveSettings(DEFAULT_SETTINGS, { reorderWindowS: windowS });
    const states: VehicleState[] = [];
    for (let v = 0; v < VEHICLES; v++) states.push(newVehicleState({ vehicleId: `veh-${v}`, company: 'bench', speedLimit: 80, settings }, `dev-${v}`, 0));
    const send = (v: number, p: TelemetryPoint) => behaviour.handle(states[v], { kind: 'points', vehicleId: states[v].vehicleId, points: [p], receivedAt: p.ts, completion });
    const run = (from: number, to: number): number => {
      const started = performance.now();
      for (let round = from; round < to; round++) {
        const swapped = swapEvery > 0 && round % swapEvery === 0;
        if (swapped && round + 1 < to) {
          for (let v = 0; v < VEHICLES; v++) {
            send(v, point(v, round + 1));
            send(v, point(v, round));
          }
          round++;
          continue;
        }
        for (let v = 0; v < VEHICLES; v++) send(v, point(v, round));
      }
      return performance.now() - started;
    };
    run(0, 60);
    const ms = run(60, 60 + ROUNDS);
    const points = VEHICLES * ROUNDS;
    console.log(`  ${label}: ${((ms * 1000) / points).toFixed(2)} µs/point = ${Math.round(points / (ms / 1000))} points/s on one core`);
  };
  console.log(`Vehicle actor, per point (filters, motion, trips/stops, overspeed, idle, fuel, attribute events; ${VEHICLES} vehicles, ${VEHICLES * ROUNDS} points, no geofences):`);
  measure('no reorder window (reorderWindowS 0)', 0, 0);
  measure('reorder window 12 s, in order', 12, 0);
  measure('reorder window 12 s, 1 point in 50 after its successor', 12, 50);
}

if (process.argv[2] === LATENCY_CLIENT) {
  await latencyClient(JSON.parse(process.argv[3] ?? '{}') as LatencyJob);
} else if (process.env.BENCH_ONLY === 'actor') {
  actorPointCost();
} else if (process.env.BENCH_ONLY === 'apply') {
  await appliedFromBus();
} else if (process.env.BENCH_ONLY === 'heap') {
  await heapPerActor();
} else {
  const cpu = cpus();
  console.log(`fleetline bench — node ${process.version}, ${cpu.length} cores, ${cpu[0]?.model ?? ''}`);
  await httpIntake();
  await endToEndLatency();
  await heapPerActor();
  frameEncoding();
  actorPointCost();
  geofencePointCost();
}
process.exit(0);
