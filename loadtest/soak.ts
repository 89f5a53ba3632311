import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ENGINE_NODE_FLAGS } from '../engine/node-flags.js';

/**
 * `npm run soak -- --minutes 30`: runs the default demo (`npm start`: the embedded log and
 * stores, DEMO_DEVICES simulated vehicles, no clients) as its own process for the given time
 * and prints, every minute, its RSS, heap and event-loop delay (read from its /metrics), then
 * a summary. A node that runs for days shows flat RSS and heap after the warm-up.
 * Numbers, not assertions: run it on the machine you want to know about.
 */
const program = new Command()
  .option('--minutes <n>', 'how long the demo runs', '30')
  .option('--interval-seconds <n>', 'seconds between two samples', '60')
  .option('--devices <n>', 'simulated vehicles (DEMO_DEVICES)', '3000')
  .option('--max-old-space-mb <n>', 'heap cap of the node (node --max-old-space-size); unset: node\'s default')
  .parse();
const opts = program.opts<{ minutes: string; intervalSeconds: string; devices: string; maxOldSpaceMb?: string }>();
const minutes = Number(opts.minutes);
const intervalMs = Number(opts.intervalSeconds) * 1000;

interface Sample {
  readonly atMin: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly loopP50Ms: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly actors: number;
  readonly pointsPerSec: number;
}

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
});

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function startDemo(port: number): Promise<ChildProcess> {
  const main = fileURLToPath(new URL('../dist/engine/main.js', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, FLEETLINE_MODE: 'demo', DEMO_DEVICES: opts.devices, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  // The embedded default: no servers, and the demo makes its own secret.
  for (const k of ['JWT_SECRET', 'KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_URL', 'FLEET_FILE']) delete env[k];
  const args = [...ENGINE_NODE_FLAGS, ...(opts.maxOldSpaceMb ? [`--max-old-space-size=${opts.maxOldSpaceMb}`] : []), main];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode} while starting`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ready) return child;
    if (Date.now() > deadline) throw new Error('the demo was not ready within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function sample(port: number, startedAt: number, lastPoints: { n: number; at: number }): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const p = 'fleetline_process_';
  const now = Date.now();
  const points = metric(text, 'fleetline_points_accepted_total');
  const pointsPerSec = (points - lastPoints.n) / ((now - lastPoints.at) / 1000);
  lastPoints.n = points;
  lastPoints.at = now;
  const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
  const ms = (s: number) => Math.round(s * 1000 * 10) / 10;
  // prom-client's event-loop figures come from monitorEventLoopDelay and are reset at each
  // scrape: each sample covers the interval since the previous one.
  return {
    atMin: Math.round(((now - startedAt) / 60_000) * 10) / 10,
    rssMb: mb(metric(text, `${p}process_resident_memory_bytes`)),
    heapUsedMb: mb(metric(text, `${p}nodejs_heap_size_used_bytes`)),
    heapTotalMb: mb(metric(text, `${p}nodejs_heap_size_total_bytes`)),
    externalMb: mb(metric(text, `${p}nodejs_external_memory_bytes`)),
    loopP50Ms: ms(metric(text, `${p}nodejs_eventloop_lag_p50_seconds`)),
    loopP99Ms: ms(metric(text, `${p}nodejs_eventloop_lag_p99_seconds`)),
    loopMaxMs: ms(metric(text, `${p}nodejs_eventloop_lag_max_seconds`)),
    actors: metric(text, 'fleetline_actors_alive'),
    pointsPerSec: Math.round(pointsPerSec),
  };
}

const row = (s: Sample) => [
  String(s.atMin).padStart(6), String(s.rssMb).padStart(8), String(s.heapUsedMb).padStart(9), String(s.heapTotalMb).padStart(10), String(s.externalMb).padStart(6),
  String(s.loopP50Ms).padStart(8), String(s.loopP99Ms).padStart(8), String(s.loopMaxMs).padStart(8), String(s.actors).padStart(7), String(s.pointsPerSec).padStart(9),
].join(' ');

async function main(): Promise<void> {
  const port = await freePort();
  const child = await startDemo(port);
  const startedAt = Date.now();
  const lastPoints = { n: 0, at: startedAt };
  console.log(`soak: default demo (${opts.devices} vehicles, embedded) on port ${port} for ${minutes} min${opts.maxOldSpaceMb ? `, heap cap ${opts.maxOldSpaceMb} MB` : ''}`);
  console.log('   min   rss MB  heap MB  heapTot MB  ext MB loop p50 loop p99 loop max  actors  points/s');
  await sample(port, startedAt, lastPoints); // resets the event-loop histogram: the first row covers one interval
  const samples: Sample[] = [];
  let died: number | null = null;
  child.once('exit', (code) => { died = code ?? -1; });
  const end = startedAt + minutes * 60_000;
  while (Date.now() < end && died === null) {
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, end - Date.now()))));
    if (died !== null) break;
    const s = await sample(port, startedAt, lastPoints);
    samples.push(s);
    console.log(row(s));
  }
  if (died !== null) {
    console.log(`soak: the demo process died (exit ${died}) after ${((Date.now() - startedAt) / 60_000).toFixed(1)} min`);
    process.exitCode = 1;
  } else {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  summarize(samples);
}

/** Least-squares slope of f over the samples, per 10 minutes (null with fewer than 5 samples). */
function driftPerTenMin(samples: readonly Sample[], f: (s: Sample) => number): number | null {
  if (samples.length < 5) return null;
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.atMin, 0) / n;
  const my = samples.reduce((a, s) => a + f(s), 0) / n;
  const sxy = samples.reduce((a, s) => a + (s.atMin - mx) * (f(s) - my), 0);
  const sxx = samples.reduce((a, s) => a + (s.atMin - mx) ** 2, 0);
  return Math.round((sxy / sxx) * 10 * 10) / 10;
}

function summarize(samples: Sample[]): void {
  if (samples.length === 0) return;
  // The first two minutes fill the actors' recent-track windows and the output topics' retention.
  const steady = samples.filter((s) => s.atMin >= 2);
  const max = (f: (s: Sample) => number) => Math.max(...samples.map(f));
  const min = (f: (s: Sample) => number) => Math.min(...steady.map(f));
  const drift = (f: (s: Sample) => number) => {
    const d = driftPerTenMin(steady, f);
    return d === null ? 'too few samples for a drift' : `drift ${d} MB per 10 min (least squares)`;
  };
  console.log('summary:');
  console.log(`  samples: ${samples.length}, ${steady.length} after the 2-minute warm-up`);
  console.log(`  RSS MB: first ${samples[0].rssMb}, last ${samples[samples.length - 1].rssMb}, after warm-up ${min((s) => s.rssMb)}..${Math.max(...steady.map((s) => s.rssMb))}; ${drift((s) => s.rssMb)}`);
  // heap used is read between collections (a sawtooth): its lows are the live heap.
  console.log(`  heap used MB: first ${samples[0].heapUsedMb}, last ${samples[samples.length - 1].heapUsedMb}, after warm-up ${min((s) => s.heapUsedMb)}..${Math.max(...steady.map((s) => s.heapUsedMb))}; ${drift((s) => s.heapUsedMb)}`);
  // monitorEventLoopDelay samples every 10 ms (prom-client's resolution): 10 ms means no delay.
  console.log(`  event-loop delay ms (10 = none; sampled every 10 ms): worst p50 ${max((s) => s.loopP50Ms)}, worst p99 ${max((s) => s.loopP99Ms)}, max ${max((s) => s.loopMaxMs)}`);
  for (const m of [1, 10, 20, 30]) {
    const s = samples.find((x) => Math.abs(x.atMin - m) <= 0.1);
    if (s) console.log(`  minute ${m}: RSS ${s.rssMb} MB, heap used ${s.heapUsedMb} MB`);
  }
}

main().catch((e: Error) => {
  console.error(`soak: ${e.message}`);
  process.exit(1);
});
