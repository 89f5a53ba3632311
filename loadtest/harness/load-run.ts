import { randomBytes } from 'node:crypto';
import { cpus, platform } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import { JwtAuth } from '../../engine/auth.js';
import { ClientSwarm, planClients, type PlannedClient } from './client-swarm.js';
import { splitDevices } from './device-fleet.js';
import { DevicePool } from './device-pool.js';
import type { DeviceJob, DeviceStats } from './device-worker.js';
import { LaunchedEngine } from './engine-launcher.js';
import { EngineMetricsScraper } from './engine-metrics.js';
import { LatencyTimeline } from './latency-timeline.js';
import type { RunOptions } from './profile.js';
import { spread, type RunResult, type ThroughputSample } from './run-result.js';

/** Devices report in groups this far apart, so the load is spread over each interval. */
const SLOT_MS = 20;

export interface RunHooks {
  /** Show the live progress line (off in tests). */
  progress?: boolean;
  log?: (line: string) => void;
  /** Called when the devices start sending, and when the last one stopped (before the settle). */
  onLoadStart?: () => void;
  onLoadEnd?: () => void;
}

/**
 * One load-test run from outside the deployment: (start a node,) connect the clients, drive
 * the devices for the duration, let the engine settle, compare every client's state with the
 * engine's, and return what was measured.
 */
export async function runLoad(options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const log = hooks.log ?? ((l: string) => console.error(l));
  const secret = options.jwtSecret ?? (options.startNode ? randomBytes(24).toString('hex') : process.env.JWT_SECRET);
  if (secret === undefined) throw new Error('the harness signs its tokens with the deployment\'s JWT_SECRET: pass --jwt-secret or set JWT_SECRET (or use --start-node)');
  const node = options.startNode ? new LaunchedEngine(options.devices, secret, options.nodeEnv) : null;
  const engines = node ? [await node.start()] : options.engines;
  if (node) log(`started an engine node at ${engines[0]}`);
  try {
    return await drive(options, engines, new JwtAuth(secret), hooks, log);
  } finally {
    await node?.stop();
  }
}

/** Clients per token: well below WS_MAX_CONNECTIONS_PER_TOKEN's default (20), as dispatchers each hold their own. */
const CLIENTS_PER_TOKEN = 10;

/** Tokens per grant, handed out in turn, so that no token holds more than CLIENTS_PER_TOKEN streams. */
async function tokensFor(auth: JwtAuth, planned: readonly PlannedClient[], ttlS: number): Promise<(g: PlannedClient['grant']) => string> {
  const key = (g: PlannedClient['grant']): string => ('role' in g ? 'admin' : g.companies.join(','));
  const clients = new Map<string, number>();
  for (const p of planned) clients.set(key(p.grant), (clients.get(key(p.grant)) ?? 0) + 1);
  const pools = new Map<string, { tokens: string[]; next: number }>();
  for (const p of planned) {
    const k = key(p.grant);
    if (pools.has(k)) continue;
    const n = Math.ceil((clients.get(k) ?? 1) / CLIENTS_PER_TOKEN);
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(await auth.sign({ ...p.grant, sub: 'loadtest', jti: `loadtest-${k}-${i}` }, ttlS));
    pools.set(k, { tokens, next: 0 });
  }
  return (g) => {
    const pool = pools.get(key(g))!;
    return pool.tokens[pool.next++ % pool.tokens.length];
  };
}

async function drive(o: RunOptions, engines: string[], auth: JwtAuth, hooks: RunHooks, log: (l: string) => void): Promise<RunResult> {
  const ttlS = Math.ceil(o.durationS + o.settleS + 600);
  const intakeToken = await auth.sign({ role: 'admin', sub: 'loadtest-devices' }, ttlS);
  const latency = new LatencyTimeline(o.warmupS === 0);
  const planned = planClients({ clients: o.clients, devices: o.devices, seed: o.seed, mix: o.clientMix, idsPerClient: o.idsPerClient, center: o.center, radiusKm: o.radiusKm });
  // Reports of parked vehicles (no movement) are timed apart: the engine sends them at its slower stopped rate.
  const stationary = new LatencyTimeline(o.warmupS === 0);
  const swarm = new ClientSwarm(planned, latency, await tokensFor(auth, planned, ttlS), stationary);
  const startedAt = new Date().toISOString();
  try {
    return await measure(o, engines, intakeToken, { latency, stationary }, swarm, startedAt, hooks, log);
  } finally {
    swarm.close();
  }
}

async function measure(
  o: RunOptions, engines: string[], intakeToken: string, timelines: { latency: LatencyTimeline; stationary: LatencyTimeline }, swarm: ClientSwarm, startedAt: string, hooks: RunHooks, log: (l: string) => void,
): Promise<RunResult> {
  const { latency, stationary } = timelines;
  await swarm.connect(engines, o.connectConcurrency);
  log(`${swarm.clients.filter((c) => c.snapshotted).length}/${o.clients} clients subscribed`);

  const intervalMs = (o.devices / o.rate) * 1000;
  const jobs: DeviceJob[] = splitDevices(o.devices, o.deviceWorkers).map((slice) => ({
    plan: {
      seed: o.seed, ...slice, intervalMs, slotMs: SLOT_MS, badRatio: o.badRatio, duplicateRatio: o.duplicateRatio,
      silentRatio: o.silentRatio, silentAfterMs: o.silentAfterS * 1000, center: o.center, radiusKm: o.radiusKm,
    },
    transport: o.transport, engines, token: intakeToken, kafkaBrokers: o.kafkaBrokers, kafkaTopicPrefix: o.kafkaTopicPrefix,
    osmandUrls: o.osmandUrl ? [o.osmandUrl] : engines.map((e) => `${e}/v1/osmand`),
    batch: o.batch, concurrency: o.concurrency, durationMs: o.durationS * 1000,
  }));

  const pool = new DevicePool(jobs);
  try {
    await pool.ready();
    const origin = performance.now();
    const scraper = new EngineMetricsScraper([...engines, ...o.metricsUrls], o.scrapeMs);
    scraper.start(origin);
    pool.start();
    hooks.onLoadStart?.();
    const warmup = setTimeout(() => {
      latency.startCounting();
      stationary.startCounting();
    }, o.warmupS * 1000);
    const throughput: ThroughputSample[] = [];
    let prev: DeviceStats = pool.stats();
    let prevDelivered = 0;
    const delivered = (): number => latency.delivered;
    const bar = hooks.progress === false ? null : new SingleBar({
      format: '{name} |{bar}| {value}/{total} s | asked {asked}/s sent {sent}/s | latency p50 {p50} p99 {p99} ms | {clients} clients | lag {lag}',
      hideCursor: true,
    });
    bar?.start(Math.ceil(o.durationS), 0, { name: o.name, asked: o.rate, sent: 0, p50: '-', p99: '-', clients: 0, lag: 0 });
    let loadDone = false;
    const poolDone = pool.done().then(() => { loadDone = true; });
    let second = 0;
    while (!loadDone) {
      second++;
      await Promise.race([sleep(Math.max(0, origin + second * 1000 - performance.now())), poolDone.then(() => sleep(0))]);
      const t = Math.round((performance.now() - origin) / 100) / 10;
      const now = pool.stats();
      const dt = Math.max(0.001, t - (throughput.at(-1)?.t ?? 0));
      const d = delivered();
      throughput.push({
        t,
        askedPerS: t <= o.durationS + 0.5 ? o.rate : 0,
        sentPerS: Math.round((now.sent - prev.sent) / dt),
        acceptedPerS: Math.round((now.accepted - prev.accepted) / dt),
        deliveredPerS: Math.round((d - prevDelivered) / dt),
      });
      prev = now;
      prevDelivered = d;
      const l = latency.roll(t);
      const lag = scraper.latest().reduce((s, e) => s + e.consumerLag, 0);
      bar?.update(Math.min(Math.ceil(o.durationS), Math.floor(t)), {
        sent: throughput.at(-1)!.sentPerS, p50: l.count ? l.p50 : '-', p99: l.count ? l.p99 : '-', clients: swarm.clients.filter((c) => c.open).length, lag,
      });
    }
    bar?.stop();
    hooks.onLoadEnd?.();
    clearTimeout(warmup);
    latency.startCounting();
    stationary.startCounting();
    const loadSeconds = (performance.now() - origin) / 1000;
    await sleep(o.settleS * 1000);
    latency.roll(Math.round((performance.now() - origin) / 100) / 10);
    await scraper.stop();
    const loss = await swarm.check(engines);
    const stats = pool.stats();
    return buildResult(o, { startedAt, loadSeconds, stats, latency, stationary, swarm, scraper, throughput, errors: pool.errors, loss });
  } finally {
    pool.kill();
  }
}

interface Measured {
  startedAt: string;
  loadSeconds: number;
  stats: DeviceStats;
  latency: LatencyTimeline;
  stationary: LatencyTimeline;
  swarm: ClientSwarm;
  scraper: EngineMetricsScraper;
  throughput: ThroughputSample[];
  errors: string[];
  loss: RunResult['loss'];
}

function buildResult(o: RunOptions, m: Measured): RunResult {
  const { jwtSecret: _secret, ...options } = o;
  const clients = m.swarm.clients;
  const sumOf = (k: keyof (typeof clients)[number]['counts']): number => clients.reduce((s, c) => s + c.counts[k], 0);
  const closed: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  for (const c of clients) {
    if (c.closeCode !== null) closed[String(c.closeCode)] = (closed[String(c.closeCode)] ?? 0) + 1;
    byKind[c.subscription.kind] = (byKind[c.subscription.kind] ?? 0) + 1;
  }
  const samples = m.scraper.samples;
  const during = samples.filter((s) => s.t <= m.loadSeconds);
  const perS = (n: number): number => Math.round(n / m.loadSeconds);
  return {
    name: o.name,
    startedAt: m.startedAt,
    loadSeconds: Math.round(m.loadSeconds * 10) / 10,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: platform() },
    options,
    intake: {
      askedPerS: o.rate,
      sentPerS: perS(m.stats.sent),
      acceptedPerS: perS(m.stats.accepted),
      achievedRatio: Math.round((m.stats.sent / m.loadSeconds / o.rate) * 1000) / 1000,
      appliedPerS: during.length ? Math.round(during.reduce((s, x) => s + x.appliedPerS, 0) / new Set(during.map((x) => x.t)).size) : 0,
      sent: m.stats.sent,
      accepted: m.stats.accepted,
      rejected: m.stats.rejected,
      failed: m.stats.failed,
      dropped: m.stats.dropped,
      bad: m.stats.bad,
      duplicates: m.stats.duplicates,
      silentDevices: m.stats.silent,
      errors: m.errors,
    },
    latency: { ...m.latency.summary(), negative: m.latency.negative },
    stationaryLatency: m.stationary.summary(),
    clients: {
      planned: clients.length,
      connected: clients.filter((c) => c.snapshotted).length,
      connectErrors: m.swarm.connectErrors.slice(0, 10),
      closedDuringRun: closed,
      byKind,
      updates: spread(clients.map((c) => c.counts.updates)),
      bytes: spread(clients.map((c) => c.counts.bytes)),
      frames: sumOf('frames'),
      events: sumOf('events'),
      seqGaps: sumOf('seqGaps'),
      seqRepeats: sumOf('seqRepeats'),
      duplicates: sumOf('duplicates'),
      regressions: sumOf('regressions'),
      errorFrames: sumOf('errors'),
    },
    loss: m.loss,
    engine: {
      samples,
      peakRssBytes: samples.reduce((x, s) => Math.max(x, s.rssBytes), 0),
      meanCpu: during.length ? Math.round((during.reduce((s, x) => s + x.cpu, 0) / during.length) * 1000) / 1000 : 0,
      maxEventLoopP99Ms: samples.reduce((x, s) => Math.max(x, s.eventLoopP99Ms), 0),
      maxConsumerLag: samples.reduce((x, s) => Math.max(x, s.consumerLag), 0),
      scrapeFailures: m.scraper.failures,
    },
    timeline: { throughput: m.throughput, latency: m.latency.samples },
  };
}
