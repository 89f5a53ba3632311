import { build, type Histogram } from 'hdr-histogram-js';

/** Latency percentiles in ms (an HDR histogram's, 3 significant digits). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One interval of the run: its own percentiles, so a plot shows latency over time. */
export interface LatencySample extends LatencySummary {
  /** Seconds since the start of the load. */
  t: number;
}

/** Latencies above this (ms) are clamped: a client a minute behind has failed anyway. */
const HIGHEST_MS = 600_000;

function histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_MS, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    mean: Math.round(h.mean * 10) / 10,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

/**
 * End-to-end latency (ms from a point's send time to a client receiving it): one histogram for
 * the whole run and one per interval, rolled into `samples` by `roll()`.
 */
export class LatencyTimeline {
  private readonly total = histogram();
  private interval = histogram();
  readonly samples: LatencySample[] = [];
  /** Receipts stamped before their send time (clocks apart): recorded as 0. */
  negative = 0;
  /** Deliveries in the whole-run histogram; during the warm-up only the per-interval ones count. */
  private counting: boolean;

  constructor(counting = true) {
    this.counting = counting;
  }

  /** Ends the warm-up: from now on deliveries count in the whole-run summary too. */
  startCounting(): void {
    this.counting = true;
  }

  record(ms: number): void {
    let v = Math.round(ms);
    if (v < 0) {
      this.negative++;
      v = 0;
    } else if (v > HIGHEST_MS) v = HIGHEST_MS;
    if (this.counting) this.total.recordValue(v);
    this.interval.recordValue(v);
    this.delivered++;
  }

  /** Closes the current interval as the sample at `t` seconds. */
  roll(t: number): LatencySample {
    const s = { t, ...summarize(this.interval) };
    this.samples.push(s);
    this.interval.reset();
    return s;
  }

  /** Deliveries recorded, warm-up included. */
  delivered = 0;

  /** The whole run's percentiles (after the warm-up). */
  summary(): LatencySummary {
    return summarize(this.total);
  }
}
