import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { summarizeDrain } from '../../loadtest/harness/backlog-drain.js';
import { comparisonSummaryLines, renderComparisonHtml } from '../../loadtest/harness/comparison-report.js';
import { judgeAttempt, lagSlope, roundRate, runComparison, waitUntilCaughtUp, type ComparisonResult } from '../../loadtest/harness/comparison.js';
import { readProfile, resolveOptions } from '../../loadtest/harness/profile.js';
import { BENCH_PG_ADMIN_URL, BENCH_REDIS_URL } from '../../loadtest/bench-stores.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

const lagOf = (rate: number, consumed: number, seconds: number): { t: number; end: number; committed: number; handled: number; lag: number }[] =>
  Array.from({ length: seconds * 2 + 1 }, (_, i) => {
    const t = i / 2;
    return { t, end: rate * t, committed: 0, handled: consumed * t, lag: (rate - consumed) * t };
  });

describe('Fleetline beside the baseline: the measures (#11)', () => {
  it('#11 a drain is timed from the first point handled to the last committed; its steady pace from 10 % to 90 %', () => {
    // Up at 1 s, handles 1,000 points/s from 2 s to 12 s, commits the last at 13 s.
    const samples = Array.from({ length: 27 }, (_, i) => {
      const t = i / 2;
      return { t, handled: t < 1 ? null : Math.max(0, Math.min(10_000, (t - 2) * 1000)), committed: t >= 13 ? 10_000 : Math.max(0, Math.min(9_000, (t - 4) * 1000)) };
    });
    const d = summarizeDrain(10_000, true, samples);
    assert.equal(d.startS, 2);
    assert.equal(d.drainS, 11);
    assert.equal(d.perS, Math.round(10_000 / 11));
    assert.equal(d.steadyPerS, 1000);
    assert.equal(d.startEstimated, false);
  });

  it('#11 a system busy before its /metrics answered has its start extrapolated back at its steady pace', () => {
    const samples = [0, 1, 2, 3, 4, 5, 6].map((t) => ({ t, handled: t < 2 ? null : Math.min(6000, t * 1000), committed: t >= 6 ? 6000 : 0 }));
    const d = summarizeDrain(6000, true, samples);
    assert.equal(d.startEstimated, true);
    assert.equal(d.startS, 0);
    assert.equal(d.perS, 1000);
    // The whole backlog between two readings: no pace, the rate from the last reading before (a lower bound).
    const all = summarizeDrain(6000, true, [{ t: 0, handled: null, committed: 0 }, { t: 1, handled: null, committed: 0 }, { t: 3, handled: 6000, committed: 6000 }]);
    assert.equal(all.perS, 3000);
    assert.equal(all.steadyPerS, 3000);
    assert.equal(all.startEstimated, true);
  });

  it('#11 a live run is sustained when the devices sent the rate and the lag did not grow; either failing says why', () => {
    assert.ok(Math.abs(lagSlope(lagOf(1000, 900, 10)) - 100) < 1e-9);
    const kept = judgeAttempt(1000, 0.99, lagOf(1000, 990, 10), 2, 10, 0.95);
    assert.equal(kept.sustained, true, kept.why);
    assert.equal(kept.handledPerS, 990);
    const behind = judgeAttempt(1000, 0.99, lagOf(1000, 800, 10), 2, 10, 0.95);
    assert.equal(behind.sustained, false);
    assert.match(behind.why, /lag grew 200 records\/s/);
    // Behind by the end of the warm-up, level after it: the lag does not grow, but it handled 80 %.
    const warmupLag = Array.from({ length: 21 }, (_, i) => {
      const t = i / 2;
      const handled = t < 2 ? 0 : 1000 * (t - 2);
      return { t, end: 1000 * t, committed: 0, handled, lag: 1000 * t - handled };
    });
    const standing = judgeAttempt(1000, 0.99, warmupLag, 2, 10, 0.95);
    assert.equal(standing.sustained, false);
    assert.match(standing.why, /handled 80\.0 % of the asked rate/);
    assert.doesNotMatch(standing.why, /lag grew/);
    const unsent = judgeAttempt(1000, 0.6, lagOf(600, 600, 10), 2, 10, 0.95);
    assert.equal(unsent.sustained, false);
    assert.match(unsent.why, /sent 60\.0 %/);
    assert.deepEqual([roundRate(7833), roundRate(123_456), roundRate(42), roundRate(3)], [7800, 120_000, 42, 10]);
  });

  it('#11 a live run waits for what a previous one left queued in the system, and gives up on a queue that does not shrink', async () => {
    let queued = 5000;
    const left = await waitUntilCaughtUp(async () => (queued = Math.max(0, queued - 1500)), 100, 10_000);
    assert.equal(left, 0);
    const started = Date.now();
    assert.equal(await waitUntilCaughtUp(async () => 777, 100, 1200), 777, 'a stuck queue: the timeout');
    assert.ok(Date.now() - started < 5000);
  });
});

async function leftovers(r: ComparisonResult): Promise<string[]> {
  const found: string[] = [];
  const admin = new Kafka({ clientId: 'comparison-test', brokers: BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    for (const s of [r.baseline, r.fleetline]) {
      found.push(...topics.filter((t) => t.startsWith(s.topicPrefix)), ...groups.filter((g) => g.startsWith(s.topicPrefix)));
    }
  } finally {
    await admin.disconnect();
  }
  const redis = new Redis(BENCH_REDIS_URL);
  try {
    for (const s of [r.baseline, r.fleetline]) {
      const [, keys] = await redis.scan('0', 'MATCH', `${s.redisPrefix}*`, 'COUNT', 10_000);
      found.push(...keys);
    }
  } finally {
    redis.disconnect();
  }
  const client = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = $1', [r.fleetline.database]);
    found.push(...rows.map((x) => x.datname));
  } finally {
    await client.end();
  }
  return found;
}

describe('Fleetline beside the baseline, end to end (#11)', () => {
  it('#11 one comparison runs both systems on real Kafka, Redis and PostgreSQL, reports both with the ratios of their numbers, renders both, and cleans up', { timeout: 300_000 }, async () => {
    const options = resolveOptions(readProfile('baseline-vs-fleetline'), {
      devices: 200, clients: 8, durationS: 4, warmupS: 1, settleS: 1, silentAfterS: 100,
      comparison: { backlogPoints: 10_000, partitions: 2, maxAttempts: 1, drainTimeoutS: 120 },
    });
    assert.equal(options.compareBaseline, true);
    const r = await runComparison(options, { progress: false, log: () => undefined });
    for (const line of comparisonSummaryLines(r)) console.log(line);

    for (const s of [r.baseline, r.fleetline]) {
      assert.equal(s.drain.complete, true, `${s.system} committed the whole backlog`);
      assert.ok(s.drain.perS > 0 && s.drain.steadyPerS > 0, `${s.system} has an intake`);
      assert.ok(s.run.intake.sent > 0, `${s.system}'s live run sent points`);
      assert.equal(s.run.options.transport, 'kafka');
      assert.equal(s.run.options.kafkaTopicPrefix, s.topicPrefix, `${s.system} was sent to its own topics`);
      assert.equal(s.run.clients.connected, 8, `every client subscribed to ${s.system}`);
      assert.ok(s.run.latency.count > 0, `${s.system}'s clients timed deliveries`);
      assert.ok(s.lag.length > 0, `${s.system}'s lag was sampled`);
      assert.equal(s.run.loss.unchecked, 0, `every client of ${s.system} was compared with its GET /v1/vehicles`);
      assert.ok(s.run.loss.expected > 0);
    }
    // The same load on both: seed, devices, clients, rate.
    assert.equal(r.baseline.run.options.seed, r.fleetline.run.options.seed);
    assert.equal(r.baseline.run.options.devices, r.fleetline.run.options.devices);
    assert.deepEqual(r.baseline.run.options.clientMix, r.fleetline.run.options.clientMix);
    assert.equal(r.fleetline.run.intake.askedPerS, r.baseline.attempts.at(-1)!.ratePerS, 'Fleetline ran at the baseline\'s rate');
    assert.equal(r.comparedAtPerS, r.baseline.run.intake.askedPerS);
    assert.equal(r.baseline.attempts[0].ratePerS, roundRate(r.baseline.drain.perS), 'the baseline\'s first live rate is its drain rate');
    assert.equal(r.fleetline.database?.startsWith('fleetline_loadtest_'), true);

    const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
    assert.equal(r.ratios.intake, ratio(r.fleetline.drain.perS, r.baseline.drain.perS));
    assert.equal(r.ratios.steadyIntake, ratio(r.fleetline.drain.steadyPerS, r.baseline.drain.steadyPerS));
    assert.equal(r.ratios.p99, ratio(r.fleetline.run.latency.p99, r.baseline.run.latency.p99));
    assert.equal(r.targets.intake.met, r.ratios.intake >= 10);
    assert.equal(r.targets.p99.met, r.ratios.p99 <= 0.1);

    const html = renderComparisonHtml(r);
    assert.ok(html.includes('uPlot'), 'the chart library is inlined');
    const data = /<script id="fleetline-comparison" type="application\/json">(.*?)<\/script>/s.exec(html);
    assert.ok(data, 'the result is embedded');
    const embedded = JSON.parse(data[1]) as ComparisonResult;
    assert.equal(embedded.baseline.run.latency.p99, r.baseline.run.latency.p99);
    assert.equal(embedded.fleetline.run.latency.p99, r.fleetline.run.latency.p99);
    assert.ok(html.includes(`${r.ratios.intake}x`) && html.includes(`p99 ${r.ratios.p99}x`), 'the ratios are in the table');
    const pairs = /const PAIRS = (.*);\n/.exec(html);
    assert.ok(pairs);
    const plotted = JSON.parse(pairs[1]) as [{ title: string }, { title: string }][];
    assert.ok(plotted.length >= 8, 'every plot of both runs');
    for (const [b, f] of plotted) assert.equal(b.title, f.title, 'side by side: the same plot of each');

    assert.deepEqual(await leftovers(r), [], 'topics, groups, keys and the database are gone');
  });
});
