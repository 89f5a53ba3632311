import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { DeviceFleet } from './device-fleet.js';
import type { GroupWatcher } from './kafka-progress.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

export interface BacklogPlan {
  seed: number;
  devices: number;
  /** Points to pre-produce (whole rounds of every device; the last round may be cut). */
  points: number;
  badRatio: number;
  duplicateRatio: number;
  center: [number, number];
  radiusKm: number;
}

const ROUND_MS = 1000;
const SEND_BATCH = 5000;

/**
 * Creates `topic` with `partitions` partitions and fills it with `plan.points` points of the
 * run's simulated devices, one round a second, stamped in the past (before anything a live run
 * sends later, so the live points are newer and nothing is dropped as out of order).
 */
export async function produceBacklog(brokers: readonly string[], topic: string, partitions: number, plan: BacklogPlan): Promise<number> {
  const kafka = new Kafka({ clientId: 'fleetline-loadtest-backlog', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await createTopicsWithLeaders(admin, [{ topic, numPartitions: partitions, replicationFactor: 1 }]);
    }
  } finally {
    await admin.disconnect();
  }
  const fleet = new DeviceFleet({
    seed: plan.seed, firstDevice: 1, devices: plan.devices, intervalMs: ROUND_MS, slotMs: ROUND_MS,
    badRatio: plan.badRatio, duplicateRatio: plan.duplicateRatio, silentRatio: 0, silentAfterMs: 0, center: plan.center, radiusKm: plan.radiusKm,
  });
  const rounds = Math.ceil(plan.points / plan.devices) + 1;
  const t0 = Date.now() - rounds * ROUND_MS - 120_000;
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  let sent = 0;
  try {
    const pending: Promise<unknown>[] = [];
    for (let r = 0; sent < plan.points; r++) {
      const { points } = fleet.take(t0 + r * ROUND_MS, r * ROUND_MS);
      const take = points.slice(0, plan.points - sent);
      for (let i = 0; i < take.length; i += SEND_BATCH) {
        const chunk = take.slice(i, i + SEND_BATCH);
        pending.push(producer.send({ topic, messages: chunk.map((p) => ({ key: p.deviceId, value: Buffer.from(encodeMsgpack(p)) })) }));
        if (pending.length >= 4) await pending.shift();
      }
      sent += take.length;
    }
    await Promise.all(pending);
  } finally {
    await producer.disconnect();
  }
  return sent;
}

/**
 * One reading during a drain: seconds since the system was started, records committed (held
 * below the backlog until the group's other topics are committed too) and handled so far.
 */
export interface DrainSample { t: number; committed: number; handled: number | null }

/** How fast a system worked off a backlog. */
export interface DrainResult {
  /** Records in the backlog. */
  points: number;
  /** Whether its group committed every one of them before the timeout. */
  complete: boolean;
  /**
   * The intake: backlog records per second from the moment it started handling them to the moment
   * all were committed (each system commits only what it finished: the baseline after its Redis
   * write and publish, Fleetline once positions and snapshots are in PostgreSQL and Redis).
   */
  perS: number;
  /** Records handled per second between 10 % and 90 % of the drain (its /metrics counters): the steady pace. */
  steadyPerS: number;
  /** Seconds from the start of the system until it handled its first record. */
  startS: number;
  /** Seconds from then until the last record was committed. */
  drainS: number;
  /**
   * The start was extrapolated back (the system had handled records before its /metrics
   * answered), or, when no pace was seen at all, taken at the last reading before: a lower bound.
   */
  startEstimated: boolean;
  samples: DrainSample[];
}

/**
 * Watches a system work off a backlog of `points` records from the moment it is started:
 * `handled()` reads its counters (null until it is up), `watcher` its committed offsets.
 * Resolves once every record is committed, or after `timeoutMs`.
 */
export async function watchDrain(watcher: GroupWatcher, handled: () => Promise<number | null>, points: number, timeoutMs: number, periodMs = 200): Promise<DrainResult> {
  const origin = performance.now();
  const samples: DrainSample[] = [];
  let complete = false;
  let failures = 0;
  for (;;) {
    let p: Awaited<ReturnType<GroupWatcher['progress']>>;
    let h: number | null;
    try {
      [p, h] = await Promise.all([watcher.progress(), handled()]);
    } catch (e) {
      // A broker busy with the system's start (its topics being created) answers later.
      if (++failures > 50) throw e;
      await sleep(periodMs);
      continue;
    }
    const t = (performance.now() - origin) / 1000;
    // Everything of the backlog committed, including what it was forwarded to (its other topics).
    const done = p.committed >= points && p.behindElsewhere === 0;
    samples.push({ t: Math.round(t * 1000) / 1000, committed: done ? p.committed : Math.min(p.committed, points - 1), handled: h });
    if (done) {
      complete = true;
      break;
    }
    if (t * 1000 > timeoutMs) break;
    await sleep(periodMs);
  }
  return summarizeDrain(points, complete, samples);
}

const rate = (a: { t: number; n: number }, b: { t: number; n: number }): number => (b.t > a.t ? Math.round((b.n - a.n) / (b.t - a.t)) : 0);

/** The rates of a drain from its samples (exported for the tests). */
export function summarizeDrain(points: number, complete: boolean, samples: readonly DrainSample[]): DrainResult {
  const seen = samples.filter((s): s is DrainSample & { handled: number } => s.handled !== null).map((s) => ({ t: s.t, n: s.handled }));
  const total = seen.at(-1)?.n ?? 0;
  const end = samples.find((s) => s.committed >= points) ?? samples.at(-1);
  const firstBusy = seen.findIndex((s) => s.n > 0);
  const result: DrainResult = { points, complete, perS: 0, steadyPerS: 0, startS: 0, drainS: 0, startEstimated: false, samples: [...samples] };
  if (firstBusy < 0 || end === undefined) return result;
  const lo = seen.find((s) => s.n >= total * 0.1)!;
  const hi = seen.find((s) => s.n >= total * 0.9)!;
  const overall = rate(seen[Math.max(0, firstBusy - 1)], seen.at(-1)!);
  // Too short a span between 10 % and 90 % (a drain of a few readings): the whole drain's pace.
  result.steadyPerS = hi.t - lo.t >= 1 ? rate(lo, hi) : overall;
  let start: number;
  if (firstBusy > 0) start = seen[firstBusy - 1].t;
  else {
    // Busy before its /metrics first answered: back from there at its steady pace.
    const pace = result.steadyPerS || overall;
    // No pace seen either (the whole backlog between two readings): from the last reading
    // before its counters answered, so the rate is a lower bound.
    const before = samples.filter((x) => x.t < seen[0].t).at(-1)?.t ?? 0;
    start = pace > 0 ? Math.max(0, seen[0].t - seen[0].n / pace) : before;
    result.startEstimated = true;
  }
  const span = end.t - start;
  result.perS = span > 0 ? Math.round(points / span) : 0;
  // Everything handled before the first reading: no pace was seen, only the drain as a whole.
  if (result.steadyPerS === 0) result.steadyPerS = result.perS;
  result.startS = Math.round(start * 10) / 10;
  result.drainS = Math.round(span * 10) / 10;
  return result;
}
