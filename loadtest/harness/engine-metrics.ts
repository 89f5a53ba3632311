/** One scrape of one engine's /metrics, reduced to what a load test plots. */
export interface EngineSample {
  /** Seconds since the start of the load. */
  t: number;
  engine: string;
  /** Share of one core used since the previous scrape (1 = one core busy). */
  cpu: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Event-loop delay p99 (ms), from prom-client's default metrics. */
  eventLoopP99Ms: number;
  /** Records of telemetry.raw not yet consumed, summed over partitions (0 on the embedded log when caught up). */
  consumerLag: number;
  /** Points applied by the actors (the baseline: read by its processor) per second since the previous scrape. */
  appliedPerS: number;
  mailboxDepth: number;
  connections: number;
}

/** Adds up every series of a Prometheus text exposition whose name ends with `suffix`. */
export function metricSum(text: string, suffix: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = line.slice(0, brace >= 0 && brace < space ? brace : line.indexOf(' '));
    if (!name.endsWith(suffix)) continue;
    const v = Number(line.slice(space + 1));
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

interface Previous { at: number; cpu: number; applied: number }

/** Scrapes every engine's /metrics on a period and keeps the samples. */
export class EngineMetricsScraper {
  readonly samples: EngineSample[] = [];
  private readonly previous = new Map<string, Previous>();
  private timer: NodeJS.Timeout | null = null;
  private origin = performance.now();
  failures = 0;

  constructor(private readonly engines: readonly string[], private readonly periodMs: number) {}

  start(origin: number): void {
    this.origin = origin;
    void this.scrapeAll();
    this.timer = setInterval(() => void this.scrapeAll(), this.periodMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.scrapeAll();
  }

  /** The latest sample of each engine. */
  latest(): EngineSample[] {
    const byEngine = new Map<string, EngineSample>();
    for (const s of this.samples) byEngine.set(s.engine, s);
    return [...byEngine.values()];
  }

  private async scrapeAll(): Promise<void> {
    await Promise.all(this.engines.map((e) => this.scrape(e)));
  }

  private async scrape(engine: string): Promise<void> {
    let text: string;
    try {
      const res = await fetch(`${engine}/metrics`, { signal: AbortSignal.timeout(5000) });
      text = await res.text();
    } catch {
      this.failures++;
      return;
    }
    const at = performance.now();
    const cpu = metricSum(text, 'process_cpu_seconds_total') ?? 0;
    // The baseline's processor: updates it published (each point written to Redis and sent on).
    const applied = metricSum(text, 'fleetline_points_accepted_total') ?? metricSum(text, 'baseline_updates_published_total') ?? 0;
    const prev = this.previous.get(engine);
    this.previous.set(engine, { at, cpu, applied });
    if (prev === undefined) return;
    const dt = (at - prev.at) / 1000;
    if (dt <= 0) return;
    this.samples.push({
      t: Math.round((at - this.origin) / 100) / 10,
      engine,
      cpu: Math.round(((cpu - prev.cpu) / dt) * 1000) / 1000,
      rssBytes: metricSum(text, 'process_resident_memory_bytes') ?? 0,
      heapUsedBytes: metricSum(text, 'nodejs_heap_size_used_bytes') ?? 0,
      eventLoopP99Ms: Math.round((metricSum(text, 'nodejs_eventloop_lag_p99_seconds') ?? 0) * 10_000) / 10,
      consumerLag: metricSum(text, 'fleetline_consumer_lag') ?? 0,
      appliedPerS: Math.round((applied - prev.applied) / dt),
      mailboxDepth: metricSum(text, 'fleetline_mailbox_depth') ?? 0,
      connections: metricSum(text, 'fleetline_ws_connections') ?? 0,
    });
  }
}
