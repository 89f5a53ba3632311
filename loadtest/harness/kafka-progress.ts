import { Kafka, logLevel, type Admin } from 'kafkajs';
import { metricSum } from './engine-metrics.js';

/** How far a consumer group is through a topic, summed over its partitions. */
export interface GroupProgress {
  /** Records in the topic (sum of the partitions' high watermarks). */
  end: number;
  /** Records the group committed (a partition it never committed counts from its low watermark). */
  committed: number;
  /** end − committed. */
  lag: number;
  /** Records of the group's other topics (`alsoTopics`) not committed yet. */
  behindElsewhere: number;
}

/**
 * One Kafka admin connection that reads a group's committed offsets against a topic's ends, and
 * against those of topics the group also consumes (Fleetline's telemetry.by-vehicle: a point
 * forwarded there is committed on telemetry.raw before it is applied).
 */
export class GroupWatcher {
  private readonly admin: Admin;
  private connected: Promise<void> | null = null;

  constructor(brokers: readonly string[], private readonly groupId: string, private readonly topic: string, private readonly alsoTopics: readonly string[] = []) {
    this.admin = new Kafka({ clientId: 'fleetline-loadtest-progress', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  }

  private async of(topic: string): Promise<{ end: number; committed: number }> {
    const ends = await this.admin.fetchTopicOffsets(topic);
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
    const committedOf = new Map<number, number>();
    for (const p of offsets?.partitions ?? []) if (Number(p.offset) >= 0) committedOf.set(p.partition, Number(p.offset));
    let end = 0;
    let committed = 0;
    for (const e of ends) {
      end += Number(e.high);
      committed += committedOf.get(e.partition) ?? Number(e.low);
    }
    return { end, committed };
  }

  async progress(): Promise<GroupProgress> {
    this.connected ??= this.admin.connect();
    await this.connected;
    // A topic the system has not created yet holds nothing to wait for.
    const [main, ...others] = await Promise.all([this.of(this.topic), ...this.alsoTopics.map((t) => this.of(t).catch(() => ({ end: 0, committed: 0 })))]);
    const behindElsewhere = others.reduce((sum, o) => sum + Math.max(0, o.end - o.committed), 0);
    return { end: main.end, committed: main.committed, lag: Math.max(0, main.end - main.committed), behindElsewhere };
  }

  async close(): Promise<void> {
    if (this.connected) await this.connected.catch(() => undefined);
    await this.admin.disconnect();
  }
}

/** Records a system has handled (applied or rejected), read from its /metrics; null when unreachable. */
export class HandledCounter {
  constructor(private readonly metricsUrl: string, private readonly counters: readonly string[]) {}

  async read(): Promise<number | null> {
    try {
      const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      return this.counters.reduce((sum, c) => sum + (metricSum(text, c) ?? 0), 0);
    } catch {
      return null;
    }
  }
}

/** One reading of a system's progress through telemetry.raw, `t` seconds after the sampler started. */
export interface LagSample {
  t: number;
  /** Records in the topic. */
  end: number;
  /** Records its consumer group committed. */
  committed: number;
  /** Records it handled (its /metrics counters of applied and rejected points). */
  handled: number;
  /** end − handled: records waiting (a constant offset from before the run does not matter: its growth does). */
  lag: number;
}

/**
 * Reads a system's progress on a period. The lag is the topic's end minus the points the system
 * says it handled, the same on both systems: committed offsets would not do, as Fleetline commits
 * only every SNAPSHOT_INTERVAL_MS (30 s) by design, the baseline after every batch.
 */
export class LagSampler {
  readonly samples: LagSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private origin = performance.now();
  private reading: Promise<void> = Promise.resolve();
  failures = 0;

  constructor(private readonly watcher: GroupWatcher, private readonly handled: HandledCounter, private readonly periodMs = 500) {}

  start(): void {
    this.origin = performance.now();
    const read = (): void => {
      this.reading = this.reading.then(async () => {
        try {
          const [p, h] = await Promise.all([this.watcher.progress(), this.handled.read()]);
          if (h === null) throw new Error('no /metrics');
          this.samples.push({ t: Math.round((performance.now() - this.origin) / 100) / 10, end: p.end, committed: p.committed, handled: h, lag: Math.max(0, p.end - h) });
        } catch {
          this.failures++;
        }
      });
    };
    read();
    this.timer = setInterval(read, this.periodMs);
  }

  /** Seconds since start() (the time base of the samples). */
  now(): number {
    return (performance.now() - this.origin) / 1000;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reading;
  }
}
