import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';
import { RECENT_WINDOW } from '../actors/vehicle-logic.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { ShardHarness } from './shard-harness.js';

/**
 * `npm run bench`: prints
 *  1. points/s one node accepts through POST /v1/telemetry on the embedded default, and how
 *     fast its vehicle actors apply them;
 *  2. heap per resident vehicle actor at 100k vehicles (actor + state + index entry).
 * Numbers, not assertions: run it on the machine you want to know about.
 */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 20_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const RESIDENT = Number(process.env.BENCH_RESIDENT ?? 100_000);

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

const cpu = cpus();
console.log(`fleetline bench — node ${process.version}, ${cpu.length} cores, ${cpu[0]?.model ?? ''}`);
await httpIntake();
await heapPerActor();
process.exit(0);
