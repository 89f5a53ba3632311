import type { SwarmCheck } from './client-swarm.js';
import type { EngineSample } from './engine-metrics.js';
import type { LatencySample, LatencySummary } from './latency-timeline.js';
import type { RunOptions } from './profile.js';

/** One second of the run as the harness saw it. */
export interface ThroughputSample {
  t: number;
  askedPerS: number;
  /** Records the devices handed to the transport. */
  sentPerS: number;
  /** Records the intake acknowledged (HTTP 202 accepted, OsmAnd 200, Kafka acks). */
  acceptedPerS: number;
  /** Points delivered to clients (d entries with a new ts), all clients together. */
  deliveredPerS: number;
}

export interface Spread { min: number; mean: number; max: number; total: number }

/** Everything a run measured: written as JSON, rendered as HTML. */
export interface RunResult {
  name: string;
  startedAt: string;
  loadSeconds: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  options: Omit<RunOptions, 'jwtSecret'>;
  intake: {
    askedPerS: number;
    sentPerS: number;
    acceptedPerS: number;
    /** sent / asked: below 1, the harness or the engine could not keep up. */
    achievedRatio: number;
    /** Points applied by the actors per second, mean over the load (from /metrics). */
    appliedPerS: number;
    sent: number;
    accepted: number;
    rejected: number;
    failed: number;
    /** Records the devices produced but never sent: the transport could not keep up. */
    dropped: number;
    bad: number;
    duplicates: number;
    silentDevices: number;
    errors: string[];
  };
  /** Deliveries that moved a vehicle (or showed it first): the end-to-end latency of movement. */
  latency: LatencySummary & { negative: number };
  /** Newer reports of vehicles that did not move, which the engine sends at its slower stopped rate (WS_STOPPED_FLUSH_MS). */
  stationaryLatency?: LatencySummary;
  clients: {
    planned: number;
    connected: number;
    connectErrors: string[];
    closedDuringRun: Record<string, number>;
    byKind: Record<string, number>;
    updates: Spread;
    bytes: Spread;
    frames: number;
    events: number;
    seqGaps: number;
    seqRepeats: number;
    duplicates: number;
    regressions: number;
    errorFrames: number;
  };
  loss: SwarmCheck;
  engine: {
    samples: EngineSample[];
    peakRssBytes: number;
    meanCpu: number;
    maxEventLoopP99Ms: number;
    maxConsumerLag: number;
    scrapeFailures: number;
  };
  timeline: { throughput: ThroughputSample[]; latency: LatencySample[] };
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, mean: 0, max: 0, total: 0 };
  let min = Infinity;
  let max = -Infinity;
  let total = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    total += v;
  }
  return { min, mean: Math.round((total / values.length) * 10) / 10, max, total };
}
