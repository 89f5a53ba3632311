import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * Every knob of a load-test run, with its default. A profile (loadtest/profiles/NAME.json)
 * sets some of them; flags on the command line override the profile.
 */
export const runOptionsSchema = z.object({
  /** Name of the run (the profile's by default); names the report files. */
  name: z.string().min(1).default('custom'),
  /** Engine base URLs (HTTP intake round-robin, WebSocket clients spread over them, /metrics scraped from each). */
  engines: z.array(z.string().url()).default(['http://127.0.0.1:8080']),
  /** More /metrics endpoints scraped beside the engines' (a deployment of several processes: the baseline's processor). */
  metricsUrls: z.array(z.string().url()).default([]),
  /** Start an engine node of our own (embedded bus, production mode) instead of using `engines`. */
  startNode: z.boolean().default(false),
  /** Extra environment of the started node (KAFKA_BROKERS, DATABASE_URL, …). */
  nodeEnv: z.record(z.string(), z.string()).default({}),
  /** The deployment's JWT_SECRET: the harness signs its admin, ingest and company tokens with it. */
  jwtSecret: z.string().min(1).optional(),
  /** How devices send: POST /v1/telemetry batches, Kafka telemetry.raw, or one OsmAnd request per point. */
  transport: z.enum(['http', 'kafka', 'osmand']).default('http'),
  kafkaBrokers: z.array(z.string()).default(['127.0.0.1:9092']),
  kafkaTopicPrefix: z.string().default(''),
  /** OsmAnd base URL; default: each engine's /v1/osmand. */
  osmandUrl: z.string().url().optional(),
  /** Simulated devices (dev-1 … dev-N, the demo fleet's numbering). */
  devices: z.number().int().min(1).default(1000),
  /** Target aggregate rate, points/s: each device reports every devices/rate seconds. */
  rate: z.number().positive().default(1000),
  /** Seconds of load (after the clients subscribed). */
  durationS: z.number().positive().default(30),
  /** First seconds of load left out of the latency summary (JIT, connection pools): still plotted. */
  warmupS: z.number().min(0).default(3),
  /** Seconds to wait after the last point before comparing client state with the engine's. */
  settleS: z.number().min(0).default(3),
  seed: z.number().int().min(0).default(1),
  /** Share of points sent invalid (latitude out of range): rejected, never seen by a client. */
  badRatio: z.number().min(0).max(1).default(0.002),
  /** Share of points sent twice (the engine drops the copy as DUPLICATE). */
  duplicateRatio: z.number().min(0).max(1).default(0.002),
  /** Share of devices that go silent after `silentAfterS` (stop sending for the rest of the run). */
  silentRatio: z.number().min(0).max(1).default(0.01),
  silentAfterS: z.number().min(0).default(10),
  /** Points per HTTP request / Kafka send. */
  batch: z.number().int().min(1).max(10_000).default(500),
  /** Requests in flight per device worker. */
  concurrency: z.number().int().min(1).max(1024).default(16),
  /** Processes the devices are spread over. */
  deviceWorkers: z.number().int().min(1).max(64).default(1),
  /** WebSocket clients. */
  clients: z.number().int().min(0).default(50),
  /** Weights of the subscription kinds: whole company, bbox (three zooms), a list of vehicle ids. */
  clientMix: z.object({ company: z.number().min(0), bbox: z.number().min(0), ids: z.number().min(0) }).default({ company: 1, bbox: 3, ids: 2 }),
  /** Vehicles in an id-list subscription. */
  idsPerClient: z.number().int().min(1).max(10_000).default(20),
  /** Clients connecting at once. */
  connectConcurrency: z.number().int().min(1).default(50),
  /** Simulated city: centre [lat, lon] and radius. */
  center: z.tuple([z.number(), z.number()]).default([52.52, 13.405]),
  radiusKm: z.number().positive().default(15),
  /** Directory of the JSON and HTML reports. */
  out: z.string().default('loadtest/reports'),
  /**
   * Run the comparison with the baseline pipeline (docs/performance.md, "Fleetline beside the
   * baseline"): both systems started by the harness on Kafka, each drains a backlog, then the
   * same live load at the baseline's highest sustained rate. `rate` is not used.
   */
  compareBaseline: z.boolean().default(false),
  comparison: z.object({
    /** Points pre-produced to each system's telemetry.raw before it starts; the drain measures its intake. */
    backlogPoints: z.number().int().min(100).default(300_000),
    /** Partitions of each system's topics (TELEMETRY_PARTITIONS of both). */
    partitions: z.number().int().min(1).max(1000).default(24),
    /** A live run is sustained when the devices sent at least this share of the asked rate and the lag grew by less than (1 − it) × the rate. */
    sustainedRatio: z.number().gt(0).max(1).default(0.95),
    /** A live run of the baseline that was not sustained is tried again at this share of its rate… */
    stepDown: z.number().gt(0).lt(1).default(0.8),
    /** …at most this many live runs of the baseline in all. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** Longest wait for a system to drain its backlog. */
    drainTimeoutS: z.number().positive().default(600),
  }).prefault({}),
  /** /metrics scrape period. */
  scrapeMs: z.number().int().min(100).default(1000),
});

export type RunOptions = z.infer<typeof runOptionsSchema>;
export type RunOptionsInput = z.input<typeof runOptionsSchema>;

const PROFILES_DIR = fileURLToPath(new URL('../profiles/', import.meta.url));

export function profileNames(): string[] {
  return readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** A profile's settings (not yet merged with defaults). */
export function readProfile(name: string): RunOptionsInput & { description?: string } {
  if (!profileNames().includes(name)) throw new Error(`no profile "${name}" in loadtest/profiles/ (have: ${profileNames().join(', ')})`);
  const raw = JSON.parse(readFileSync(`${PROFILES_DIR}${name}.json`, 'utf8')) as Record<string, unknown>;
  return { name, ...raw } as RunOptionsInput & { description?: string };
}

/** Defaults, then the profile, then the flags; validated (a bad value throws naming the field). */
export function resolveOptions(profile: RunOptionsInput | undefined, flags: RunOptionsInput): RunOptions {
  const { description: _d, ...fromProfile } = (profile ?? {}) as RunOptionsInput & { description?: string };
  const merged = { ...fromProfile, ...flags };
  const parsed = runOptionsSchema.safeParse(merged);
  if (!parsed.success) {
    throw new Error(`bad load-test options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
