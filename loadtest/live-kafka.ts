import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FleetlineSystem } from './harness/compared-systems.js';
import { liveRun, resources } from './harness/comparison.js';
import { readProfile, resolveOptions } from './harness/profile.js';
import { metricSum } from './harness/engine-metrics.js';

/**
 * One Fleetline node (Kafka, Redis, PostgreSQL, started here as the comparison starts it) fed
 * live through telemetry.raw at a fixed rate: what it handled, latency, CPU, lag, and its
 * forwarding counters. `npm run bench:live-kafka -- RATE [SECONDS]`; BENCH_NODE_ENV=K=V,K=V
 * adds to the node's environment; BENCH_CLIENTS=n subscribed clients (default 50; 0 shows the
 * intake without the fan-out); BENCH_CPU_PROF=dir profiles the node.
 */
const rate = Number(process.argv[2] ?? 8000);
const durationS = Number(process.argv[3] ?? 20);
const env = Object.fromEntries((process.env.BENCH_NODE_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const secret = randomBytes(24).toString('hex');
const o = resolveOptions(readProfile('baseline-vs-fleetline'), { durationS, rate, clients: Number(process.env.BENCH_CLIENTS ?? 50), nodeEnv: env, jwtSecret: secret, compareBaseline: false });
const sys = new FleetlineSystem({ devices: o.devices, jwtSecret: secret, kafkaBrokers: o.kafkaBrokers, partitions: o.comparison.partitions, env });
const metric = async (name: string): Promise<number> => metricSum(await (await fetch(`${sys.url}/metrics`)).text(), name) ?? 0;
try {
  await sys.start();
  const fwd0 = await metric('fleetline_points_forwarded_total');
  const before = loadavg().map((l) => l.toFixed(2)).join(' ');
  const live = await liveRun(o, sys, rate, secret, { log: (l: string) => console.error(l) });
  const fwd1 = await metric('fleetline_points_forwarded_total');
  const a = live.attempt;
  const r = live.run;
  console.log(JSON.stringify({
    askedPerS: rate, sentRatio: a.achievedRatio, handledPerS: Math.round(a.handledPerS), sustained: a.sustained, why: a.why,
    lagAtStart: a.lagAtStart, lagAtEnd: a.lagAtEnd, lagGrowthPerS: Math.round(a.lagGrowthPerS), forwarded: fwd1 - fwd0,
    p50: r.latency.p50, p99: r.latency.p99, latencyCount: r.latency.count, ...resources(r),
    warnings: Object.fromEntries(countWarnings(sys.logLines())),
    loadavgBefore: before, loadavgAfter: loadavg().map((l) => l.toFixed(2)).join(' '),
  }));
} catch (e) {
  console.error(`live run failed: ${(e as Error).message}\n${sys.logTail()}`);
  process.exitCode = 1;
} finally {
  await sys.stop();
  await sys.clean().catch((e: Error) => console.error(e.message));
}

/** The node's warning and error log lines, counted by message. */
function countWarnings(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines) {
    if (!/"level":(40|50)/.test(l)) continue;
    const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? '?';
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return counts;
}
