import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { comparisonSummaryLines, renderComparisonHtml } from './comparison-report.js';
import { runComparison } from './comparison.js';
import { renderHtml } from './html-report.js';
import { runLoad } from './load-run.js';
import { profileNames, readProfile, resolveOptions, type RunOptionsInput } from './profile.js';
import type { RunResult } from './run-result.js';

/**
 * `npm run loadtest -- --profile smoke` (profiles in loadtest/profiles/), or every knob as a
 * flag; flags override the profile. Writes <out>/<name>-<time>.json and .html and prints the
 * summary. docs/performance.md explains every number.
 */
const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};
const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

const program = new Command()
  .name('fleetline-loadtest')
  .description('Drives a running Fleetline deployment from outside: simulated devices in, WebSocket clients out, end-to-end latency and loss measured.')
  .option('--profile <name>', `a profile of loadtest/profiles/ (${profileNames().join(', ')})`)
  .option('--name <name>', 'name of the run (default: the profile\'s)')
  .option('--engines <urls>', 'comma-separated engine base URLs', list)
  .option('--start-node', 'start an engine node of our own (embedded bus, production mode) and drive it')
  .option('--no-start-node', 'drive --engines even when the profile starts a node')
  .option('--node-env <KEY=VALUE...>', 'environment of the started node (repeatable)')
  .option('--jwt-secret <secret>', 'the deployment\'s JWT_SECRET (default: $JWT_SECRET)')
  .addOption(new Option('--transport <kind>', 'how devices send').choices(['http', 'kafka', 'osmand']))
  .option('--kafka-brokers <list>', 'Kafka brokers (transport kafka)', list)
  .option('--kafka-topic-prefix <prefix>', 'the deployment\'s KAFKA_TOPIC_PREFIX')
  .option('--osmand-url <url>', 'OsmAnd base URL (default: each engine\'s /v1/osmand)')
  .option('--devices <n>', 'simulated devices', num)
  .option('--rate <points/s>', 'target aggregate rate', num)
  .option('--duration <s>', 'seconds of load', num)
  .option('--warmup <s>', 'first seconds left out of the latency summary', num)
  .option('--settle <s>', 'seconds to wait before comparing client state with the engine\'s', num)
  .option('--seed <n>', 'random seed', num)
  .option('--bad-ratio <r>', 'share of points sent invalid', num)
  .option('--duplicate-ratio <r>', 'share of points sent twice', num)
  .option('--silent-ratio <r>', 'share of devices that go silent', num)
  .option('--silent-after <s>', 'when they go silent', num)
  .option('--batch <n>', 'points per request', num)
  .option('--concurrency <n>', 'requests in flight per device worker', num)
  .option('--device-workers <n>', 'processes the devices are spread over', num)
  .option('--clients <n>', 'WebSocket clients', num)
  .option('--client-mix <company,bbox,ids>', 'weights of the subscription kinds', list)
  .option('--ids-per-client <n>', 'vehicles in an id-list subscription', num)
  .option('--compare-baseline', 'run the baseline pipeline and a Fleetline node (both started here, on Kafka, Redis and PostgreSQL) one after the other: each drains a backlog, then the same live load at the baseline\'s highest sustained rate')
  .option('--backlog <points>', 'points each system drains in the comparison', num)
  .option('--partitions <n>', 'partitions of each system\'s topics in the comparison', num)
  .option('--out <dir>', 'directory of the JSON and HTML reports')
  .option('--no-progress', 'no live progress line');

program.parse();

const f = program.opts<Record<string, unknown>>();
let profile: ReturnType<typeof readProfile> | undefined;
try {
  profile = typeof f.profile === 'string' ? readProfile(f.profile) : undefined;
} catch (e) {
  console.error(`fleetline-loadtest: ${(e as Error).message}`);
  process.exit(2);
}
const profileComparison = profile?.comparison;

const flags: RunOptionsInput = {};
const set = <K extends keyof RunOptionsInput>(k: K, v: unknown): void => { if (v !== undefined) (flags as Record<string, unknown>)[k] = v; };
set('name', f.name);
set('engines', f.engines);
set('startNode', f.startNode);
if (Array.isArray(f.nodeEnv)) set('nodeEnv', Object.fromEntries((f.nodeEnv as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
set('jwtSecret', f.jwtSecret ?? process.env.JWT_SECRET);
set('transport', f.transport);
set('kafkaBrokers', f.kafkaBrokers);
set('kafkaTopicPrefix', f.kafkaTopicPrefix);
set('osmandUrl', f.osmandUrl);
set('devices', f.devices);
set('rate', f.rate);
set('durationS', f.duration);
set('warmupS', f.warmup);
set('settleS', f.settle);
set('seed', f.seed);
set('badRatio', f.badRatio);
set('duplicateRatio', f.duplicateRatio);
set('silentRatio', f.silentRatio);
set('silentAfterS', f.silentAfter);
set('batch', f.batch);
set('concurrency', f.concurrency);
set('deviceWorkers', f.deviceWorkers);
set('clients', f.clients);
if (Array.isArray(f.clientMix)) {
  const [company, bbox, ids] = (f.clientMix as string[]).map(Number);
  set('clientMix', { company, bbox, ids });
}
set('idsPerClient', f.idsPerClient);
set('out', f.out);
set('compareBaseline', f.compareBaseline);
if (f.backlog !== undefined || f.partitions !== undefined) {
  const comparison: Record<string, unknown> = { ...(profileComparison ?? {}) };
  if (f.backlog !== undefined) comparison.backlogPoints = f.backlog;
  if (f.partitions !== undefined) comparison.partitions = f.partitions;
  set('comparison', comparison);
}

function summaryLines(r: RunResult): string[] {
  const n = (v: number): string => v.toLocaleString('en-US');
  return [
    `${r.name}: ${r.loadSeconds} s of load, ${n(r.options.devices)} devices via ${r.options.transport}, ${r.clients.connected}/${r.clients.planned} clients`,
    `  intake    asked ${n(r.intake.askedPerS)}/s, sent ${n(r.intake.sentPerS)}/s (${(r.intake.achievedRatio * 100).toFixed(1)} %), accepted ${n(r.intake.acceptedPerS)}/s, applied ${n(r.intake.appliedPerS)}/s; ${n(r.intake.rejected)} rejected, ${n(r.intake.failed)} failed, ${n(r.intake.dropped)} never sent (${n(r.intake.bad)} bad and ${n(r.intake.duplicates)} duplicate points sent, ${r.intake.silentDevices} devices silent)`,
    `  latency   p50 ${r.latency.p50} ms, p90 ${r.latency.p90} ms, p99 ${r.latency.p99} ms, p99.9 ${r.latency.p999} ms, max ${r.latency.max} ms over ${n(r.latency.count)} deliveries`,
    ...(r.stationaryLatency !== undefined && r.stationaryLatency.count > 0 ? [`  parked    p50 ${r.stationaryLatency.p50} ms, p99 ${r.stationaryLatency.p99} ms over ${n(r.stationaryLatency.count)} reports of vehicles that did not move (sent every WS_STOPPED_FLUSH_MS by design)`] : []),
    `  clients   updates/client min ${n(r.clients.updates.min)} mean ${n(r.clients.updates.mean)} max ${n(r.clients.updates.max)}; bytes/client mean ${n(r.clients.bytes.mean)}; seq gaps ${r.clients.seqGaps}, repeats ${r.clients.seqRepeats}, duplicated updates ${r.clients.duplicates}`,
    `  loss      ${n(r.loss.lost)} lost of ${n(r.loss.expected)} vehicles checked (missing ${r.loss.missing}, stale ${r.loss.stale}, extra ${r.loss.extra}); ${r.loss.unchecked} clients unchecked`,
    `  engine    peak RSS ${(r.engine.peakRssBytes / 1048576).toFixed(0)} MiB, mean CPU ${r.engine.meanCpu} cores, max event-loop p99 ${r.engine.maxEventLoopP99Ms} ms, max consumer lag ${n(r.engine.maxConsumerLag)}`,
  ];
}

try {
  const options = resolveOptions(profile, flags);
  const progress = f.progress !== false && process.stderr.isTTY;
  if (options.compareBaseline) {
    const result = await runComparison(options, { progress });
    const out = resolve(options.out);
    mkdirSync(out, { recursive: true });
    const stem = join(out, `${result.name}-${result.startedAt.replace(/[:.]/g, '-')}`);
    writeFileSync(`${stem}.json`, JSON.stringify(result, null, 2));
    writeFileSync(`${stem}.html`, renderComparisonHtml(result));
    for (const line of comparisonSummaryLines(result)) console.log(line);
    console.log(`  reports   ${stem}.json, ${stem}.html`);
    process.exit(0);
  }
  const result = await runLoad(options, { progress });
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const stem = join(out, `${result.name}-${result.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${stem}.json`, JSON.stringify(result, null, 2));
  writeFileSync(`${stem}.html`, renderHtml(result));
  for (const line of summaryLines(result)) console.log(line);
  console.log(`  reports   ${stem}.json, ${stem}.html`);
  process.exit(0);
} catch (e) {
  console.error(`fleetline-loadtest: ${(e as Error).message}`);
  process.exit(2);
}
