import { hostname } from 'node:os';
import { MEMORY_HISTORY_MAX_ROWS } from '../adapters/embedded/memory-history-store.js';
import { DEFAULT_SETTINGS, domainSettingsReference, parseSettingsOverride, resolveSettings, type DomainSettings, type SettingsOverride } from '../actors/domain/domain-settings.js';

/**
 * Every environment variable Fleetline reads, with its default and why. The single source of
 * truth: docs/configuration.md is generated from this table (`npm run docs`) and a test
 * checks the two agree.
 */
interface Option<T> {
  readonly env: string;
  readonly default: T;
  readonly doc: string;
  readonly parse: (raw: string) => T;
  /** The default as docs/configuration.md states it, when it is computed at start. */
  readonly docDefault?: string;
}

const int = (min: number, max: number) => (raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be an integer in [${min}, ${max}]`);
  return n;
};
const optionalInt = (min: number, max: number) => (raw: string): number | null => int(min, max)(raw);
const text = (raw: string): string => raw;
const weight = (raw: string): number => {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n > 1000) throw new Error('must be a decimal number in [0, 1000]');
  return n;
};
const optionalText = (raw: string): string | null => (raw === '' ? null : raw);
const bool = (raw: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
};
const oneOf = <T extends string>(...values: T[]) => (raw: string): T => {
  if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
  return raw as T;
};

const settingsJson = (raw: string): SettingsOverride => {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('must be a JSON object');
  }
  const { value, problems } = parseSettingsOverride(v);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return value;
};

export const options = {
  port: { env: 'PORT', default: 8080, doc: 'HTTP and WebSocket port.', parse: int(0, 65535) },
  osmandPort: { env: 'OSMAND_PORT', default: 5055 as number | null, doc: 'Port of the OsmAnd protocol (Traccar Client and OsmAnd phones; Traccar\'s own default), on HOST: every path and method there is a report, as on Traccar\'s port, besides `/v1/osmand` on PORT. Same rule as `/v1/osmand`: only registered device ids (docs/security.md). `off` disables it; 0 picks a free port (the default when PORT is 0, as in tests).', parse: (raw: string): number | null => (raw === 'off' ? null : int(0, 65535)(raw)), docDefault: '`5055` (`0` when `PORT=0`)' },
  mode: { env: 'FLEETLINE_MODE', default: 'production' as 'demo' | 'production', doc: '`production`: a node of a real deployment (`JWT_SECRET` or a JWKS (`JWT_JWKS_FILE` / `JWT_JWKS_URL`) required, no demo token, unbound devices rejected unless `ACCEPT_UNBOUND_DEVICES=true`). `demo`: the one-command demo `npm start` runs: simulated vehicles, a random secret and an admin token for anyone who can reach `GET /v1/demo/token`; it refuses to start with a real store (`DATABASE_URL`, `REDIS_URL`, `KAFKA_BROKERS`) or a `JWT_SECRET` configured.', parse: oneOf('demo', 'production') },
  host: { env: 'HOST', default: '', doc: 'Interface to listen on (default: 127.0.0.1 in demo mode, so the demo and its admin token stay on this machine; 0.0.0.0 in production).', parse: text, docDefault: '127.0.0.1 (demo), 0.0.0.0 (production)' },
  nodeId: { env: 'NODE_ID', default: hostname(), doc: 'This node\'s id in logs, metrics and the consumer group (default: the host name).', parse: text, docDefault: 'host name' },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino level: trace, debug, info, warn, error.', parse: oneOf('trace', 'debug', 'info', 'warn', 'error', 'silent') },
  transport: { env: 'TRANSPORT', default: 'auto' as 'auto' | 'uws' | 'ws', doc: 'HTTP/WebSocket server: auto (uWebSockets.js when its native binary loads, else ws), uws (fail if it does not load), ws.', parse: oneOf('auto', 'uws', 'ws') },
  demoDevices: { env: 'DEMO_DEVICES', default: 3000, doc: 'Simulated vehicles of the demo (`FLEETLINE_MODE=demo` only; ignored in production).', parse: int(0, 2_000_000) },
  demoIntervalMs: { env: 'DEMO_INTERVAL_MS', default: 1000, doc: 'How often every simulated vehicle reports a position.', parse: int(50, 60_000) },
  jwtSecret: { env: 'JWT_SECRET', default: null as string | null, doc: 'HS256 secret of client and intake tokens, at least 16 characters (use 32+ random bytes, e.g. `openssl rand -hex 32`). Production needs it, or a JWKS for RS256 tokens, or both; unset, HS256 tokens are refused. The demo makes a random one and refuses to start when it is set.', parse: optionalText },
  jwtJwksFile: { env: 'JWT_JWKS_FILE', default: null as string | null, doc: 'Path of a JSON Web Key Set (`{"keys":[…]}`) whose RSA public keys verify RS256 tokens (picked by the token\'s `kid`). Read at start, and again when a token names a `kid` it lacks (at most every 30 s): rotate keys by rewriting the file. Not with `JWT_JWKS_URL`.', parse: optionalText },
  jwtJwksUrl: { env: 'JWT_JWKS_URL', default: null as string | null, doc: 'URL of the identity provider\'s JWKS (e.g. `https://idp.example/.well-known/jwks.json`) whose RSA public keys verify RS256 tokens. Fetched at start (unreachable: a warning, not a failed start; tried again per token), cached 10 min, fetched again for an unknown `kid` (at most every 30 s). Not with `JWT_JWKS_FILE`.', parse: optionalText },
  jwtMaxLifetimeS: { env: 'JWT_MAX_LIFETIME_S', default: 86_400, doc: 'Longest token lifetime accepted: a token must carry `exp`, and one whose `exp` lies further than this after its `iat` (or after now) is refused.', parse: int(60, 2_000_000) },
  jwtIssuer: { env: 'JWT_ISSUER', default: null as string | null, doc: 'When set, a token\'s `iss` must equal it.', parse: optionalText },
  jwtAudience: { env: 'JWT_AUDIENCE', default: null as string | null, doc: 'When set, a token\'s `aud` must contain it.', parse: optionalText },
  fleetFile: { env: 'FLEET_FILE', default: null as string | null, doc: 'JSON reference data (companies, vehicles, devices, geofences, vehicle groups) for the embedded default (example: demo/fleet.json). Unset in demo mode: a fleet is generated for DEMO_DEVICES.', parse: optionalText },
  acceptUnboundDevices: { env: 'ACCEPT_UNBOUND_DEVICES', default: null as boolean | null, doc: 'true: a device with no vehicle binding becomes a vehicle `~dev/<deviceId>` of no company, visible to admin tokens only, on every intake path (HTTP with an admin credential, OsmAnd, Kafka). false rejects it (UNKNOWN_DEVICE).', parse: bool, docDefault: '`true` (demo), `false` (production)' },
  unboundDeviceLimit: { env: 'UNBOUND_DEVICE_LIMIT', default: 10_000, doc: 'Most unbound devices one node holds at once; points of further ones are rejected (UNBOUND_DEVICE_LIMIT, counted in fleetline_points_rejected_total).', parse: int(0, 10_000_000) },
  nodeWeight: { env: 'NODE_WEIGHT', default: 1, doc: 'This node\'s share of the partitions relative to the other nodes (2 takes twice as many as 1; 0 takes none). Read at every rebalance.', parse: weight },
  advertisedUrl: { env: 'ADVERTISED_URL', default: null as string | null, doc: 'On Kafka: the URL operators and `npx fleetline cluster drain|weight` reach this node\'s HTTP API at, announced to the cluster. Default: http://<HOST, or the host name when HOST is 0.0.0.0>:<PORT>.', parse: optionalText, docDefault: 'http://host:port' },
  liveFlushMs: { env: 'LIVE_FLUSH_MS', default: 20, doc: 'On Kafka: how often a node publishes its vehicles\' changes to `vehicle.live` for the other nodes\' clients (the cross-node share of the delivery latency).', parse: int(1, 10_000) },
  passivateAfterS: { env: 'PASSIVATE_AFTER_S', default: 120, doc: 'A vehicle with no point for this long is passivated: its state is in the snapshot store, its actor stops (it stays on the map) and its next point restores it. 0 never passivates.', parse: int(0, 30 * 86_400) },
  maxResidentActors: { env: 'MAX_RESIDENT_ACTORS', default: 2_000_000, doc: 'Most resident vehicles on one node (with a spawned actor or restored and without one yet, as fleetline_actors_alive counts them; passivated ones are not counted); above it the longest idle vehicles are passivated first (about 2.6 KB of heap each).', parse: int(1, 100_000_000) },
  geofenceDwellS: { env: 'GEOFENCE_DWELL_S', default: 10, doc: 'Seconds a vehicle must stay inside a geofence before geofence_enter fires, and outside before geofence_exit does: GPS jitter along an edge fires nothing. A geofence\'s own `dwellS` overrides it; 0 fires on the first point.', parse: int(0, 86_400) },
  geofenceSpeedLimit: { env: 'GEOFENCE_SPEED_LIMIT', default: 'lowest' as 'lowest' | 'highest', doc: 'When a vehicle is inside several geofences with a speed limit, which one applies: `lowest` or `highest` (Traccar\'s default, `preferLowest=false`). A geofence\'s limit replaces the vehicle\'s own while it is inside.', parse: oneOf('lowest', 'highest') },
  partitions: { env: 'TELEMETRY_PARTITIONS', default: 24, doc: 'Partitions of telemetry.raw, fixed at topic creation (it decides which partition a device maps to); production wants ~10x the largest planned node count.', parse: int(1, 10_000) },
  checkpointIntervalMs: { env: 'CHECKPOINT_INTERVAL_MS', default: 1000, doc: 'How often positions, events, trips, the current state and the output topics are written (the staleness of history and of Redis current state).', parse: int(50, 600_000) },
  snapshotIntervalMs: { env: 'SNAPSHOT_INTERVAL_MS', default: 30_000, doc: 'How often, while points flow, the snapshots of changed actors are written (Redis and PostgreSQL) and offsets committed: the most a crash replays (a node\'s, from the log; a crashed vehicle actor\'s, from the history). Also at every hand-off and shutdown, and at the next checkpoint of a quiet partition. 0: at every checkpoint. Without PostgreSQL, written positions are kept in memory for twice this (at least 60 s, `MEMORY_HISTORY_MAX_ROWS` at most) for a crashed actor\'s replay.', parse: int(0, 3_600_000) },
  memoryHistoryMaxRows: { env: 'MEMORY_HISTORY_MAX_ROWS', default: MEMORY_HISTORY_MAX_ROWS, doc: 'Without PostgreSQL: most written positions kept in memory for a crashed vehicle actor\'s replay (about 180 bytes each, packed); above it the oldest are forgotten first, and a crashed actor whose positions since its snapshot were forgotten is restored without them (logged). 0 keeps none.', parse: int(0, 100_000_000) },
  snapshotFormat: { env: 'SNAPSHOT_FORMAT', default: 2 as 1 | 2, doc: 'Layout of the snapshots this node writes: 2 (compact tuples, read by this version) or 1 (the layout of versions before it). Every version reads both; set 1 on the new nodes during a rolling upgrade from an older version, and 2 once every node runs this one (docs/deployment.md).', parse: (raw: string): 1 | 2 => Number(oneOf('1', '2')(raw)) as 1 | 2 },
  maxPendingPositions: { env: 'MAX_PENDING_POSITIONS', default: 500_000, doc: 'Unwritten positions per partition above which intake pauses (a store is down).', parse: int(1000, 100_000_000) },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', default: 4 * 1024 * 1024, doc: 'Largest HTTP request body; larger ones get 413.', parse: int(1024, 256 * 1024 * 1024) },
  maxBatchRecords: { env: 'MAX_BATCH_RECORDS', default: 20_000, doc: 'Most records in one POST /v1/telemetry.', parse: int(1, 1_000_000) },
  wsMaxFrameBytes: { env: 'WS_MAX_FRAME_BYTES', default: 64 * 1024, doc: 'Largest client → server WebSocket frame; larger ones close the connection with 1009.', parse: int(256, 16 * 1024 * 1024) },
  wsFlushMs: { env: 'WS_FLUSH_MS', default: 30, doc: 'How long deltas coalesce per client before a `d` frame goes out.', parse: int(1, 10_000) },
  wsMaxFlushMs: { env: 'WS_MAX_FLUSH_MS', default: 250, doc: 'Longest the `WS_FLUSH_MS` interval grows to while the node\'s event loop is busy (over 85% for a quarter second at a time): fewer, larger `d` frames carrying the same entries, since a frame costs about as much to write whatever it carries. It comes back down to `WS_FLUSH_MS` when the loop is idle again. Equal to `WS_FLUSH_MS` (or lower): a fixed interval.', parse: int(1, 10_000) },
  wsStoppedFlushMs: { env: 'WS_STOPPED_FLUSH_MS', default: 1000, doc: 'How often changes of vehicles standing still (stopped, idle, offline) go to a client; they are also the first to wait for a slow one. Events and alarms go out at once.', parse: int(1, 60_000) },
  wsClusterFlushMs: { env: 'WS_CLUSTER_FLUSH_MS', default: 1000, doc: 'How often a `lod: "clusters"` subscription gets its cell counts again when they changed.', parse: int(10, 60_000) },
  wsEncodeOnce: { env: 'WS_ENCODE_ONCE', default: true, doc: 'Encode each vehicle change once per form (min/full, delta/view) and copy its bytes into every client\'s `d` frame; false encodes every frame per client (for benchmarks).', parse: bool },
  wsMaxBufferedBytes: { env: 'WS_MAX_BUFFERED_BYTES', default: 1024 * 1024, doc: 'Unsent bytes above which a client is slow: flushes wait and deltas keep coalescing.', parse: int(1024, 1024 * 1024 * 1024) },
  wsMaxQueuedBytes: { env: 'WS_MAX_QUEUED_BYTES', default: 8 * 1024 * 1024, doc: 'Unsent bytes above which a slow client is disconnected (4408) instead of frames being dropped; keep below the transport limit (16 MiB).', parse: int(64 * 1024, 15 * 1024 * 1024) },
  wsMaxFramesPerSecond: { env: 'WS_MAX_FRAMES_PER_SEC', default: 100, doc: 'Client frames per second (any type, counted per one-second window) above which the connection is closed (`RATE_LIMITED`, 4429). The real-time spec\'s 100/s.', parse: int(1, 100_000) },
  wsMaxSubscriptionsPerSecond: { env: 'WS_MAX_SUBS_PER_SEC', default: 10, doc: '`sub` frames per second (one-second window) above which a subscription change is refused with an `err` frame `SUBSCRIPTION_RATE_LIMITED`; the connection and its current subscription stay. A map that debounces its viewport sends a few per second.', parse: int(1, 100_000) },
  wsMaxSubscriptionIds: { env: 'WS_MAX_SUB_IDS', default: 10_000, doc: 'Most entries in a subscription\'s `vehicles` or `companies` list; a longer one is refused with `SUBSCRIPTION_TOO_LARGE` (err frame, the connection stays).', parse: int(1, 1_000_000) },
  wsMaxSubscriptionGroups: { env: 'WS_MAX_SUB_GROUPS', default: 256, doc: 'Most entries in a subscription\'s `groups` list; a longer one is refused with `SUBSCRIPTION_TOO_LARGE`.', parse: int(1, 100_000) },
  wsMaxConnectionsPerToken: { env: 'WS_MAX_CONNECTIONS_PER_TOKEN', default: 20, doc: 'Most open streams one token may hold on one node (a token is its `jti`, else its `sub` and `iat`, else its hash); one more is refused at authentication with `TOO_MANY_CONNECTIONS` and close code 4430.', parse: int(1, 1_000_000) },
  wsAuthTimeoutMs: { env: 'WS_AUTH_TIMEOUT_MS', default: 10_000, doc: 'Time a connection without ?token= has to send its auth frame.', parse: int(100, 600_000) },
  wsPingIntervalSeconds: { env: 'WS_PING_INTERVAL_S', default: 30, doc: 'How often the server sends each WebSocket a protocol-level ping (RFC 6455 opcode 0x9; browsers and WebSocket libraries answer it themselves). 0 disables pings and the pong timeout.', parse: int(0, 3600) },
  wsPongTimeoutSeconds: { env: 'WS_PONG_TIMEOUT_S', default: 60, doc: 'A connection that has answered none of its pings for this long (no pong and no frame since the first unanswered ping) is closed with 1001 (`HEARTBEAT_TIMEOUT`).', parse: int(1, 3600) },
  wsSessionTtlS: { env: 'WS_SESSION_TTL_S', default: 300, doc: 'How long a stream session outlives its connection: a client that reconnects within it (to any node when REDIS_URL is set, to the same node otherwise) resumes with `{t:"resume", session, seq}` and gets only what it missed (docs/protocol.md, Resume). Sessions live in Redis with this TTL, in memory without Redis.', parse: int(5, 7 * 86_400) },
  wsSessionEvents: { env: 'WS_SESSION_EVENTS', default: 1000, doc: 'Most sent events a session keeps (and most vehicles that left its scope it remembers) for a resume; a gap beyond them is answered with a full snapshot (GAP_TOO_LARGE).', parse: int(10, 100_000) },
  wsSessionSaveMs: { env: 'WS_SESSION_SAVE_MS', default: 1000, doc: 'How often a node writes what changed in its stream sessions, all in one batch (one pipeline to Redis): never a write per frame. A session is also saved when its connection ends; a node killed without that loses at most this much, and its clients resume with a full snapshot.', parse: int(50, 60_000) },
  sseHeartbeatS: { env: 'SSE_HEARTBEAT_S', default: 15, doc: 'Every `GET /v1/sse` stream gets a comment line this often, so that proxies and load balancers keep a quiet stream open (most close an idle connection after 30-60 s).', parse: int(1, 3600) },
  snapshotLimit: { env: 'SNAPSHOT_LIMIT', default: 100_000, doc: 'Most vehicles in one `snap` frame or one GET /v1/vehicles answer.', parse: int(1, 10_000_000) },
  shutdownTimeoutMs: { env: 'SHUTDOWN_TIMEOUT_MS', default: 15_000, doc: 'Longest graceful shutdown before the process exits anyway.', parse: int(100, 600_000) },
  kafkaBrokers: { env: 'KAFKA_BROKERS', default: null as string | null, doc: 'Comma-separated Kafka brokers; unset keeps the embedded in-process log.', parse: optionalText },
  embeddedMaxBatch: { env: 'EMBEDDED_MAX_BATCH', default: 10_000, doc: 'Most records of one partition the embedded log hands its consumer at once (no `KAFKA_BROKERS`): while the engine catches up with a backlog, a larger batch gives a vehicle several points in one actor message.', parse: int(1, 1_000_000) },
  kafkaTopicPrefix: { env: 'KAFKA_TOPIC_PREFIX', default: '', doc: 'Prefix of every topic and consumer group of this deployment (several deployments or test runs on one cluster).', parse: text },
  kafkaCompression: { env: 'KAFKA_COMPRESSION', default: 'gzip' as 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd', doc: 'Codec of the batches this node produces to Kafka: none, gzip, snappy, lz4, zstd. Consumers read every codec whatever this says; gzip (written at level 1, the fastest) is the one every Kafka client reads.', parse: oneOf('none', 'gzip', 'snappy', 'lz4', 'zstd') },
  kafkaHeartbeatIntervalMs: { env: 'KAFKA_HEARTBEAT_INTERVAL_MS', default: 500, doc: 'How often a node heartbeats to its Kafka consumer group, which is also how it learns that the group rebalances (a node joined, left or asked): the longest a hand-off waits before it starts (kafkajs\'s 3000 made it wait up to 3 s). One tiny request to the group coordinator each time. Below `KAFKA_SESSION_TIMEOUT_MS`.', parse: int(100, 60_000) },
  kafkaSessionTimeoutMs: { env: 'KAFKA_SESSION_TIMEOUT_MS', default: 30_000, doc: 'A node without a heartbeat for this long (kill -9, a frozen machine) leaves the group and its partitions move: how long the vehicles of a dead node stay still. Shorter moves them sooner, but also takes the partitions from a node whose event loop stalled that long. Brokers accept `group.min.session.timeout.ms` … `group.max.session.timeout.ms` (6 s … 30 min by default).', parse: int(1000, 3_600_000) },
  kafkaRebalanceTimeoutMs: { env: 'KAFKA_REBALANCE_TIMEOUT_MS', default: 60_000, doc: 'How long the group coordinator waits for every member to re-join during a rebalance before it drops the late ones. The members that re-joined consume nothing meanwhile, so this bounds how long one stuck node can hold every partition still.', parse: int(1000, 3_600_000) },
  outputRetentionMs: { env: 'OUTPUT_RETENTION_MS', default: null as number | null, doc: 'How long `vehicle.updates` and `vehicle.events` keep a record (Kafka\'s retention.ms, set when this node creates the topics). Default: 1 minute in the embedded log (nothing outside the process reads it), the broker\'s default on Kafka. `telemetry.raw` never drops a record the engine has not applied (see docs/deployment.md).', parse: optionalInt(1000, 365 * 24 * 3_600_000), docDefault: '1 min (embedded) / broker default (Kafka)' },
  outputRetentionBytes: { env: 'OUTPUT_RETENTION_BYTES', default: null as number | null, doc: 'Most key + value bytes each partition of `vehicle.updates` and `vehicle.events` keeps (Kafka\'s retention.bytes). Default: 256 KiB in the embedded log, the broker\'s default on Kafka.', parse: optionalInt(1024, Number.MAX_SAFE_INTEGER), docDefault: '256 KiB (embedded) / broker default (Kafka)' },
  redisUrl: { env: 'REDIS_URL', default: null as string | null, doc: 'Redis for hot snapshots and current state; unset keeps them in memory.', parse: optionalText },
  redisPrefix: { env: 'REDIS_PREFIX', default: 'fleetline:', doc: 'Key prefix of this deployment in Redis.', parse: text },
  databaseUrl: { env: 'DATABASE_URL', default: null as string | null, doc: 'PostgreSQL for reference data, durable snapshots and history; unset keeps the embedded stores.', parse: optionalText },
  domainSettings: { env: 'DOMAIN_SETTINGS', default: {} as SettingsOverride, doc: 'JSON object overriding the defaults of the vehicle domain settings below for this deployment (e.g. `{"offlineTimeoutS":300}`); companies and vehicles override them again in their `settings`.', parse: settingsJson, docDefault: '`{}`' },
  historyReadConnections: { env: 'HISTORY_READ_CONNECTIONS', default: 4, doc: 'PostgreSQL connections for track, events and report reads, apart from the checkpoint writers\' (a long report never delays a checkpoint).', parse: int(1, 100) },
  historyRetentionDays: { env: 'HISTORY_RETENTION_DAYS', default: 90, doc: 'Daily position partitions older than this are dropped.', parse: int(1, 36_500) },
} satisfies Record<string, Option<unknown>>;

type Options = typeof options;
type RawConfig = { -readonly [K in keyof Options]: Options[K]['default'] };
/** The configuration with the mode-dependent defaults resolved. */
export type Config = Omit<RawConfig, 'acceptUnboundDevices'> & { acceptUnboundDevices: boolean };

/** Settings the demo refuses: it would hand out admin tokens for, or overwrite, a real deployment. */
const REAL_DEPLOYMENT_SETTINGS = ['jwtSecret', 'jwtJwksFile', 'jwtJwksUrl', 'databaseUrl', 'redisUrl', 'kafkaBrokers'] as const;

/** Variables of earlier versions that no longer mean anything: set, they stop the start rather than being ignored. */
const RETIRED = {
  WS_IDLE_TIMEOUT_S: 'WS_IDLE_TIMEOUT_S was replaced by WS_PING_INTERVAL_S (default 30) and WS_PONG_TIMEOUT_S (default 60): set those instead',
} as const;

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG';
}

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, opt] of Object.entries(options) as [string, Option<unknown>][]) {
    const raw = env[opt.env];
    if (raw === undefined || raw === '') {
      out[key] = opt.default;
      continue;
    }
    try {
      out[key] = opt.parse(raw.trim());
    } catch (e) {
      problems.push(`${opt.env}=${JSON.stringify(raw)}: ${(e as Error).message}`);
    }
  }
  const raw = out as RawConfig;
  const demo = raw.mode === 'demo';
  if (demo) {
    const set = REAL_DEPLOYMENT_SETTINGS.filter((k) => raw[k] !== null).map((k) => options[k].env);
    if (set.length > 0) {
      problems.push(`the demo (FLEETLINE_MODE=demo, what npm start runs) refuses to start with ${set.join(', ')} set: ` +
        'it serves an admin token to anyone who asks and generates its own reference data. Run a real deployment with ' +
        'FLEETLINE_MODE=production (the default of node dist/engine/main.js, see docs/deployment.md), or unset them for the demo');
    }
  } else if (!raw.jwtSecret && !raw.jwtJwksFile && !raw.jwtJwksUrl) {
    problems.push('JWT_SECRET is required in production mode (or a JWKS for RS256 tokens: JWT_JWKS_FILE or JWT_JWKS_URL): set it to a long random string (at least 16 characters, e.g. openssl rand -hex 32), or run the demo with FLEETLINE_MODE=demo (npm start)');
  }
  if (raw.jwtJwksFile && raw.jwtJwksUrl) problems.push('JWT_JWKS_FILE and JWT_JWKS_URL are exclusive: set one of them');
  if (raw.jwtJwksUrl && !/^https?:\/\/[^/]/.test(raw.jwtJwksUrl)) problems.push('JWT_JWKS_URL must be an http(s) URL');
  for (const [name, why] of Object.entries(RETIRED)) if ((env[name] ?? '') !== '') problems.push(why);
  if (raw.kafkaHeartbeatIntervalMs >= raw.kafkaSessionTimeoutMs) problems.push('KAFKA_HEARTBEAT_INTERVAL_MS must be below KAFKA_SESSION_TIMEOUT_MS (a third of it or less)');
  if (raw.jwtSecret !== null && raw.jwtSecret.length < 16) problems.push('JWT_SECRET must be at least 16 characters');
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return {
    ...raw,
    host: raw.host !== '' ? raw.host : demo ? '127.0.0.1' : '0.0.0.0',
    // PORT=0 asks for free ports (tests, benchmarks, several nodes on one machine): so does OsmAnd's.
    osmandPort: raw.port === 0 && (env.OSMAND_PORT ?? '') === '' ? 0 : raw.osmandPort,
    acceptUnboundDevices: raw.acceptUnboundDevices ?? demo,
  };
}

/** The deployment's vehicle domain settings: the defaults with DOMAIN_SETTINGS over them. */
export function domainSettings(config: Pick<Config, 'domainSettings'>): DomainSettings {
  return resolveSettings(DEFAULT_SETTINGS, config.domainSettings);
}

export function isDemo(config: Config): boolean {
  return config.mode === 'demo';
}

/** The Markdown reference (docs/configuration.md). */
export function configurationReference(): string {
  const rows = Object.values(options).map((o: Option<unknown>) => {
    const def = o.docDefault !== undefined ? o.docDefault : o.default === null ? '(unset)' : o.default === '' ? '(empty)' : `\`${String(o.default)}\``;
    return `| \`${o.env}\` | ${def} | ${o.doc} |`;
  });
  return [
    '# Configuration',
    '',
    'Fleetline reads its configuration from environment variables only. This file is generated',
    'from `engine/config.ts` by `npm run docs`; a test fails when the two disagree.',
    '',
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
    '## Vehicle domain settings',
    '',
    'Thresholds of filters, motion, trips and events (`actors/domain/domain-settings.ts`). The deployment sets',
    'them in `DOMAIN_SETTINGS`; a company or a vehicle overrides any of them in its `settings` JSON (reference',
    'data: PostgreSQL `companies.settings` / `vehicles.settings`, the `settings` field of `fleet.reference`',
    'values and of FLEET_FILE entries). The vehicle wins over its company, the company over the deployment;',
    'unknown keys and bad values are left out and logged. Resolved once per reference change, never per point.',
    '',
    '| Setting | Default | Meaning |',
    '| --- | --- | --- |',
    ...domainSettingsReference(),
    '',
  ].join('\n');
}
