import { randomBytes } from 'node:crypto';
import { cpus, loadavg, platform } from 'node:os';
import { produceBacklog, watchDrain, type DrainResult } from './backlog-drain.js';
import { BaselineSystem, FleetlineSystem, type ComparedSystem, type SystemSetup } from './compared-systems.js';
import { GroupWatcher, LagSampler, type HandledCounter, type LagSample } from './kafka-progress.js';
import { runLoad, type RunHooks } from './load-run.js';
import type { RunOptions } from './profile.js';
import type { RunResult } from './run-result.js';

/** One live run of a system at a fixed rate, and whether it kept up. */
export interface LiveAttempt {
  ratePerS: number;
  sustained: boolean;
  /** Why not (empty when sustained). */
  why: string;
  /** Records sent per second / asked. */
  achievedRatio: number;
  /** Least-squares slope of the consumer lag over the load after the warm-up (records/s; > 0: falling behind). */
  lagGrowthPerS: number;
  /** Records the system handled per second during the load (its /metrics counters). */
  handledPerS: number;
  /** Records still queued in the system when the run started (−1: unknown); it waits for them to drain first. */
  queuedBefore?: number;
  /** Lag (records) at the start and the end of the load. */
  lagAtStart: number;
  lagAtEnd: number;
}

/** What one system did in the comparison. */
export interface SystemComparison {
  system: 'fleetline' | 'baseline';
  /** Its topics and consumer groups, Redis keys and database: all removed after its runs. */
  topicPrefix: string;
  redisPrefix: string;
  database: string | null;
  /** Its intake: the backlog drained, from its group's committed offsets. */
  drain: DrainResult;
  /** Every live run, in order (the baseline steps down until one is sustained). */
  attempts: LiveAttempt[];
  /** The live run at the compared rate (the baseline's last attempt). */
  run: RunResult;
  /** Consumer lag during that run; t: seconds since its load started. */
  lag: LagSample[];
  /** CPU of all its processes, mean over the load (cores), and the sum of their peak RSS. */
  cpuCores: number;
  peakRssBytes: number;
}

export interface ComparisonResult {
  kind: 'comparison';
  name: string;
  startedAt: string;
  seconds: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadavgBefore: number[]; loadavgAfter: number[] };
  options: Omit<RunOptions, 'jwtSecret'>;
  baseline: SystemComparison;
  fleetline: SystemComparison;
  /** The baseline's highest live rate that was sustained (or its lowest tried, when none was: `baselineSustained` false). */
  baselineMaxSustainedPerS: number;
  baselineSustained: boolean;
  /** The rate both live runs were asked for: the baseline's max sustained rate. */
  comparedAtPerS: number;
  ratios: {
    /** Fleetline's drain rate (first point handled to last committed) / the baseline's: the same measure on both. Target ≥ 10. */
    intake: number;
    /** The same with each one's steady handling pace (10–90 % of the drain). */
    steadyIntake: number;
    /** Fleetline's drain rate / the baseline's max sustained live rate. */
    intakeVsBaselineSustained: number;
    /** Fleetline's p99 / the baseline's, both at the compared rate. Target ≤ 0.1. */
    p99: number;
    p50: number;
  };
  targets: { intake: { target: number; met: boolean }; p99: { target: number; met: boolean } };
}

export const INTAKE_TARGET = 10;
export const P99_TARGET = 0.1;

const round3 = (v: number): number => Math.round(v * 1000) / 1000;
const loads = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);

/** Least-squares slope of lag over t (records/s); 0 with fewer than two samples. */
export function lagSlope(samples: readonly { t: number; lag: number }[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const mt = samples.reduce((s, x) => s + x.t, 0) / n;
  const ml = samples.reduce((s, x) => s + x.lag, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of samples) {
    num += (x.t - mt) * (x.lag - ml);
    den += (x.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Sustained: the devices sent ≥ `ratio` of the asked rate, the system handled ≥ `ratio` of it
 * over the whole load, and the lag after the warm-up grew by less than (1 − ratio) of the rate
 * per second (it was not falling behind at the end).
 */
export function judgeAttempt(rate: number, achievedRatio: number, lag: readonly LagSample[], warmupS: number, loadS: number, ratio: number): LiveAttempt {
  const window = lag.filter((s) => s.t >= Math.min(warmupS, loadS / 2) && s.t <= loadS);
  const slope = lagSlope(window);
  const inLoad = lag.filter((s) => s.t >= 0 && s.t <= loadS);
  const first = inLoad[0];
  const last = inLoad.at(-1);
  const handledPerS = first && last && last.t > first.t ? Math.round((last.handled - first.handled) / (last.t - first.t)) : 0;
  const reasons: string[] = [];
  if (achievedRatio < ratio) reasons.push(`the devices sent ${(achievedRatio * 100).toFixed(1)} % of the asked rate`);
  if (handledPerS < ratio * rate) reasons.push(`it handled ${((handledPerS / rate) * 100).toFixed(1)} % of the asked rate`);
  if (slope > (1 - ratio) * rate) reasons.push(`the lag grew ${Math.round(slope)} records/s`);
  if (window.length < 3) reasons.push(`only ${window.length} lag readings during the load`);
  return {
    ratePerS: rate, sustained: reasons.length === 0, why: reasons.join('; '), achievedRatio, handledPerS,
    lagGrowthPerS: Math.round(slope), lagAtStart: inLoad[0]?.lag ?? 0, lagAtEnd: inLoad.at(-1)?.lag ?? 0,
  };
}

/** CPU summed over a run's processes (each one's mean over the load), and their peak RSS summed. */
export function resources(run: RunResult): { cpuCores: number; peakRssBytes: number } {
  const during = run.engine.samples.filter((s) => s.t <= run.loadSeconds);
  const byEngine = new Map<string, { cpu: number[]; rss: number }>();
  for (const s of run.engine.samples) {
    const e = byEngine.get(s.engine) ?? { cpu: [], rss: 0 };
    e.rss = Math.max(e.rss, s.rssBytes);
    byEngine.set(s.engine, e);
  }
  for (const s of during) byEngine.get(s.engine)!.cpu.push(s.cpu);
  let cpuCores = 0;
  let peakRssBytes = 0;
  for (const e of byEngine.values()) {
    if (e.cpu.length > 0) cpuCores += e.cpu.reduce((a, b) => a + b, 0) / e.cpu.length;
    peakRssBytes += e.rss;
  }
  return { cpuCores: round3(cpuCores), peakRssBytes };
}

/** A live rate: down to two significant digits, at least 10 points/s. */
export function roundRate(r: number): number {
  if (!(r >= 10)) return 10;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(r)) - 1);
  return Math.floor(r / unit) * unit;
}

export interface Live { run: RunResult; lag: LagSample[]; attempt: LiveAttempt }

/**
 * Waits until the system has worked off what is queued in it (the drain's tail, or a previous
 * live run that overloaded it): down to `floor` records, or no longer shrinking for 10 s, or
 * `timeoutMs`. Returns what was still queued.
 */
export async function waitUntilCaughtUp(queued: () => Promise<number>, floor: number, timeoutMs = 180_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let best = Number.POSITIVE_INFINITY;
  let bestAt = Date.now();
  for (;;) {
    const q = await queued().catch(() => Number.POSITIVE_INFINITY);
    if (q <= floor || Date.now() > deadline) return q;
    if (q < best * 0.99) {
      best = q;
      bestAt = Date.now();
    } else if (Date.now() - bestAt > 10_000) return q;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One live run of the profile against `sys` at `rate`, with its consumer lag sampled from Kafka. */
export async function liveRun(o: RunOptions, sys: ComparedSystem, rate: number, secret: string, hooks: RunHooks): Promise<Live> {
  const left = await waitUntilCaughtUp(() => sys.queued(), Math.max(100, rate * 0.05));
  if (left > Math.max(100, rate * 0.05)) (hooks.log ?? console.error)(`${sys.system}: starting the live run with ${Number.isFinite(left) ? left.toLocaleString('en-US') : 'an unknown number of'} records still queued in it`);
  const watcher = new GroupWatcher(o.kafkaBrokers, sys.groupId, sys.rawTopic);
  const sampler = new LagSampler(watcher, sys.handled()!, 500);
  let loadStart = 0;
  try {
    sampler.start();
    const run = await runLoad({
      ...o, name: `${o.name}-${sys.system}`, startNode: false, engines: [sys.url], metricsUrls: [...sys.metricsUrls], jwtSecret: secret,
      transport: 'kafka', kafkaTopicPrefix: sys.topicPrefix, rate, compareBaseline: false,
    }, { ...hooks, onLoadStart: () => { loadStart = sampler.now(); } });
    await sampler.stop();
    const lag = sampler.samples.map((s) => ({ ...s, t: Math.round((s.t - loadStart) * 10) / 10 }));
    const attempt = { ...judgeAttempt(rate, run.intake.achievedRatio, lag, o.warmupS, run.loadSeconds, o.comparison.sustainedRatio), queuedBefore: Number.isFinite(left) ? left : -1 };
    return { run, lag, attempt };
  } finally {
    await sampler.stop();
    await watcher.close();
  }
}

/** Fills the system's telemetry.raw with the backlog, starts the system and times its drain. */
async function startAndDrain(o: RunOptions, sys: ComparedSystem, log: (l: string) => void): Promise<DrainResult> {
  const c = o.comparison;
  const points = await produceBacklog(o.kafkaBrokers, sys.rawTopic, c.partitions, {
    seed: o.seed, devices: o.devices, points: c.backlogPoints, badRatio: o.badRatio, duplicateRatio: o.duplicateRatio, center: o.center, radiusKm: o.radiusKm,
  });
  log(`${sys.system}: ${points.toLocaleString('en-US')} points in ${sys.rawTopic}; starting it`);
  const watcher = new GroupWatcher(o.kafkaBrokers, sys.groupId, sys.rawTopic, sys.alsoTopics);
  try {
    let counter: HandledCounter | null = null;
    const handled = async (): Promise<number | null> => (counter ??= sys.handled())?.read() ?? null;
    const drained = watchDrain(watcher, handled, points, c.drainTimeoutS * 1000);
    try {
      await sys.start();
    } catch (e) {
      await drained.catch(() => undefined);
      throw e;
    }
    const d = await drained;
    log(`${sys.system}: ${d.complete ? 'committed all' : 'did NOT commit all'} of the backlog: ${d.perS.toLocaleString('en-US')} points/s from its first point to the last commit (${d.drainS} s), ${d.steadyPerS.toLocaleString('en-US')} points/s handled at its steady pace`);
    return d;
  } finally {
    await watcher.close();
  }
}

/** Runs `job` on the system, then stops it and removes what it left; a failed job's error wins over a failed clean-up's. */
async function withSystem<T>(sys: ComparedSystem, job: () => Promise<T>, log: (l: string) => void): Promise<T> {
  let result: T;
  try {
    result = await job();
  } catch (e) {
    await sys.stop().catch(() => undefined);
    await sys.clean().catch((c: Error) => log(c.message));
    throw new Error(`${sys.system}: ${(e as Error).message}\n${sys.logTail()}`);
  }
  await sys.stop();
  await sys.clean();
  return result;
}

/**
 * The baseline pipeline and a Fleetline node, one after the other, each started by the
 * harness on Kafka with its own topics, keys (and database): each drains the same backlog
 * (its intake), then the baseline runs the profile live, stepping down until a rate is
 * sustained, and Fleetline runs the same profile at that rate. Ratios from those numbers.
 */
export async function runComparison(o: RunOptions, hooks: RunHooks = {}): Promise<ComparisonResult> {
  const log = hooks.log ?? ((l: string) => console.error(l));
  const secret = o.jwtSecret ?? randomBytes(24).toString('hex');
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadavgBefore = loads();
  const setup: SystemSetup = { devices: o.devices, jwtSecret: secret, kafkaBrokers: o.kafkaBrokers, partitions: o.comparison.partitions };

  const baselineSys = new BaselineSystem(setup);
  const baseline = await withSystem(baselineSys, async (): Promise<SystemComparison> => {
    const drain = await startAndDrain(o, baselineSys, log);
    const attempts: LiveAttempt[] = [];
    let rate = roundRate(drain.perS);
    let live: Live | null = null;
    for (let i = 0; i < o.comparison.maxAttempts; i++) {
      log(`baseline: live run at ${rate.toLocaleString('en-US')} points/s`);
      live = await liveRun(o, baselineSys, rate, secret, hooks);
      attempts.push(live.attempt);
      log(`baseline: ${live.attempt.sustained ? 'sustained' : `not sustained (${live.attempt.why})`}`);
      if (live.attempt.sustained) break;
      // Next: below this rate, and no more than the system (or the devices) managed at it.
      rate = roundRate(Math.min(rate * o.comparison.stepDown, live.attempt.handledPerS > 0 ? live.attempt.handledPerS : Infinity));
    }
    return { system: 'baseline', topicPrefix: baselineSys.topicPrefix, redisPrefix: baselineSys.redisPrefix, database: null, drain, attempts, run: live!.run, lag: live!.lag, ...resources(live!.run) };
  }, log);
  const comparedAt = baseline.attempts.at(-1)!.ratePerS;

  const fleetlineSys = new FleetlineSystem({ ...setup, env: o.nodeEnv });
  const fleetline = await withSystem(fleetlineSys, async (): Promise<SystemComparison> => {
    const drain = await startAndDrain(o, fleetlineSys, log);
    log(`fleetline: live run at ${comparedAt.toLocaleString('en-US')} points/s (the baseline's)`);
    const live = await liveRun(o, fleetlineSys, comparedAt, secret, hooks);
    return { system: 'fleetline', topicPrefix: fleetlineSys.topicPrefix, redisPrefix: fleetlineSys.redisPrefix, database: fleetlineSys.database, drain, attempts: [live.attempt], run: live.run, lag: live.lag, ...resources(live.run) };
  }, log);

  const ratio = (a: number, b: number): number => (b > 0 ? round3(a / b) : 0);
  const intake = ratio(fleetline.drain.perS, baseline.drain.perS);
  const p99 = ratio(fleetline.run.latency.p99, baseline.run.latency.p99);
  const { jwtSecret: _s, ...options } = o;
  return {
    kind: 'comparison',
    name: o.name,
    startedAt,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: platform(), loadavgBefore, loadavgAfter: loads() },
    options,
    baseline,
    fleetline,
    baselineMaxSustainedPerS: comparedAt,
    baselineSustained: baseline.attempts.at(-1)!.sustained,
    comparedAtPerS: comparedAt,
    ratios: {
      intake,
      steadyIntake: ratio(fleetline.drain.steadyPerS, baseline.drain.steadyPerS),
      intakeVsBaselineSustained: ratio(fleetline.drain.perS, comparedAt),
      p99,
      p50: ratio(fleetline.run.latency.p50, baseline.run.latency.p50),
    },
    targets: {
      intake: { target: INTAKE_TARGET, met: intake >= INTAKE_TARGET },
      p99: { target: P99_TARGET, met: baseline.run.latency.count > 0 && fleetline.run.latency.count > 0 && p99 <= P99_TARGET },
    },
  };
}
