import { start as startActorSystem, stop as stopActor } from 'nact';
import type { Logger as Pino } from 'pino';
import { CloseCodes } from '../actors/domain/errors.js';
import { ConnectionQuota } from '../actors/connection-quota.js';
import { DeliveryHub } from '../actors/delivery-hub.js';
import { RecentChanges } from '../actors/recent-changes.js';
import { SessionRegistry } from '../actors/session-registry.js';
import { MemorySessionStore } from '../adapters/embedded/memory-session-store.js';
import { RedisSessionStore } from '../adapters/redis/redis-session-store.js';
import { FleetDirectory } from '../actors/fleet-directory.js';
import { ShardSupervisor } from '../actors/shard-supervisor.js';
import { SpatialStateIndex } from '../actors/spatial-state-index.js';
import type { FleetSnapshot, ReferenceChange } from '../actors/domain/reference-data.js';
import { decodeMsgpack, decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../adapters/codec/msgpack-codec.js';
import { msgpackFrameEncoder } from '../adapters/codec/frame-assembly.js';
import { createTransport } from '../adapters/websocket/select-transport.js';
import { JwtAuth } from './auth.js';
import { openJwks, preloadJwks } from './jwks.js';
import { ConfigError, domainSettings, isDemo, type Config } from './config.js';
import { DemoFleet } from './demo-fleet.js';
import { createHttpApi, createOsmandApi } from './http-api.js';
import { IntakeCredentials } from './intake-credentials.js';
import { PrometheusMetrics } from './metrics.js';
import { createInfrastructure, type Infrastructure } from './infrastructure.js';
import { followReferenceTopic, TopicReferenceWriter } from './reference-feed.js';
import { AppliedReferenceChanges, referenceRoutes } from './reference-admin.js';
import { PgReferenceWriter } from '../adapters/postgres/pg-reference-writer.js';
import { fleetReplication } from './fleet-replication.js';
import { clusterOps, type ClusterOps } from './cluster-ops.js';
import { inspectGroup } from '../adapters/kafka/group-inspector.js';
import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { vehiclePartition } from '../cluster/vehicle-partition.js';
import { hostname } from 'node:os';
import { ConsumerGroups, Topics } from '../actors/ports/partitioned-log.js';
import { StreamEndpoint } from './stream-endpoint.js';
import { SseEndpoint } from './sse-endpoint.js';
import { TelemetryIntake } from './telemetry-intake.js';
import { eventLoopPace } from './event-loop-pace.js';
import { engineTopics } from './topics.js';
import type { Transport } from '../actors/ports/transport.js';

export interface FleetlineNode {
  readonly port: number;
  readonly url: string;
  readonly transport: Transport['kind'];
  /** OsmAnd's own port (OSMAND_PORT); null when it is off. */
  readonly osmandPort: number | null;
  readonly auth: JwtAuth;
  /** Demo mode only: an admin token for the demo page and the console. */
  readonly demoToken: (() => Promise<string>) | null;
  readonly index: SpatialStateIndex;
  readonly supervisor: ShardSupervisor;
  /** Where every subscriber actor (WebSocket and SSE) is filed while it is alive. */
  readonly hub: DeliveryHub;
  /** GET /v1/sse streams. */
  readonly sse: SseEndpoint;
  readonly infrastructure: Infrastructure;
  /** On Kafka: this node's part in the cluster (weight, rebalance, drain); null on one node. */
  readonly cluster: ClusterOps | null;
  /** Graceful shutdown: stop intake, flush, close sockets with a close code. */
  close(): Promise<void>;
}

/** Boots one engine node: stores and bus, reference data, actors, HTTP + WebSocket, demo. */
export async function startNode(config: Config, log: Pino): Promise<FleetlineNode> {
  // The demo signs its own tokens with a random secret; production verifies HS256 only with JWT_SECRET.
  const secret = config.jwtSecret ?? (isDemo(config) ? crypto.randomUUID() + crypto.randomUUID() : null);
  const jwks = openJwks({ file: config.jwtJwksFile, url: config.jwtJwksUrl });
  const auth = new JwtAuth(secret, { maxLifetimeS: config.jwtMaxLifetimeS, issuer: config.jwtIssuer, audience: config.jwtAudience, jwks });
  if (jwks && config.jwtJwksUrl) {
    const url = config.jwtJwksUrl;
    preloadJwks(jwks).then(
      (keys) => log.info({ url, keys }, 'JWKS fetched: RS256 tokens are verified with its keys'),
      (err: Error) => log.warn({ url, err: err.message }, 'JWT_JWKS_URL could not be fetched: RS256 tokens are refused until it can (tried again for a token, at most every 30 s)'),
    );
  }
  const infra = await createInfrastructure(config, log);
  await infra.bus.ensureTopics(engineTopics(config, infra.bus.kind));
  const partitions = infra.bus.partitionsOf(Topics.telemetryRaw);
  if (infra.bus.partitionsOf(Topics.telemetryByVehicle) !== partitions) {
    await infra.close().catch(() => {});
    throw new ConfigError(`${Topics.telemetryByVehicle} has ${infra.bus.partitionsOf(Topics.telemetryByVehicle)} partitions and ${Topics.telemetryRaw} ${partitions}: they must be equal (a vehicle's points are forwarded to the same partition number); add partitions to the smaller one`);
  }

  const demo = isDemo(config) ? new DemoFleet(config) : null;
  const demoToken = demo ? () => auth.sign({ role: 'admin', sub: 'demo' }) : null;
  // Following starts before the load: a change committed while the fleet loads and the actors
  // restore (a minute at 1M vehicles) is kept and applied once the node can, never lost.
  const early: ReferenceChange[] = [];
  let onReferenceChange = (change: ReferenceChange): void => { early.push(change); };
  const stopSource = await infra.reference.follow((change) => onReferenceChange(change));
  let fleet: FleetSnapshot;
  try {
    fleet = demo && config.fleetFile === null ? demo.referenceData() : await infra.reference.load();
  } catch (e) {
    await stopSource().catch(() => {});
    await infra.close().catch(() => {});
    throw e;
  }
  const directory = new FleetDirectory(fleet, { accept: config.acceptUnboundDevices, limit: config.unboundDeviceLimit }, domainSettings(config), {
    dwellMs: config.geofenceDwellS * 1000, speedLimit: config.geofenceSpeedLimit,
  });
  log.info({ ...directory.stats, source: demo ? 'demo' : infra.reference.kind }, 'reference data loaded');
  if (directory.stats.refused > 0) log.warn({ refused: directory.stats.refused }, 'reference data naming vehicles in the reserved ~ namespace was refused');

  const system = startActorSystem();
  const index = new SpatialStateIndex();
  const recent = new RecentChanges();
  const flushPace = eventLoopPace(config.wsFlushMs, config.wsMaxFlushMs);
  const hub = new DeliveryHub(undefined, directory, recent, flushPace.pace);
  let supervisor: ShardSupervisor | null = null;
  let stream: StreamEndpoint | null = null;
  let sse: SseEndpoint | null = null;
  const transportOptions = {
    maxBodyBytes: config.maxBodyBytes, maxFrameBytes: config.wsMaxFrameBytes,
    pingIntervalSeconds: config.wsPingIntervalSeconds, pongTimeoutSeconds: config.wsPongTimeoutSeconds,
  };
  const transport = createTransport(config.transport, transportOptions, log);
  const metrics = new PrometheusMetrics(config.nodeId, transport.kind, {
    actors: () => supervisor?.actors ?? 0,
    mailboxDepth: () => supervisor?.mailboxDepth ?? 0,
    connections: () => stream?.connections ?? 0,
    sseConnections: () => sse?.connections ?? 0,
    consumerLag: () => supervisor?.consumerLag() ?? new Map(),
    consumer: () => supervisor?.consumerStatus ?? null,
  });
  const sessionLimits = { ttlMs: config.wsSessionTtlS * 1000, maxEvents: config.wsSessionEvents };
  const sessions = new SessionRegistry(
    infra.redis ? new RedisSessionStore(infra.redis, { prefix: config.redisPrefix, ...sessionLimits }) : new MemorySessionStore(sessionLimits),
    recent, { ...sessionLimits, saveEveryMs: config.wsSessionSaveMs }, metrics, log,
  );
  // WebSocket and SSE streams share these: the same actors, sessions and per-token connection limit.
  const subscriberDeps = {
    index, hub, membership: directory, verifier: auth, decode: decodeMsgpack, metrics, sessions, pace: flushPace.pace,
    quota: new ConnectionQuota(config.wsMaxConnectionsPerToken),
    options: {
      flushMs: config.wsFlushMs, stoppedFlushMs: config.wsStoppedFlushMs, clusterFlushMs: config.wsClusterFlushMs, maxBufferedBytes: config.wsMaxBufferedBytes, maxQueuedBytes: config.wsMaxQueuedBytes, maxFramesPerSecond: config.wsMaxFramesPerSecond,
      maxSubscriptionsPerSecond: config.wsMaxSubscriptionsPerSecond,
      subscriptionLimits: { maxIds: config.wsMaxSubscriptionIds, maxGroups: config.wsMaxSubscriptionGroups },
      authTimeoutMs: config.wsAuthTimeoutMs, snapshotLimit: config.snapshotLimit,
    },
  };
  // Shared pre-encoded MessagePack entries go to WebSocket streams only: SSE streams are JSON.
  stream = new StreamEndpoint(system, { ...subscriberDeps, encode: encodeMsgpack, ...(config.wsEncodeOnce ? { frames: msgpackFrameEncoder } : {}) });
  const intake = new TelemetryIntake(infra.bus, metrics, config.maxBatchRecords);

  // The port opens before the actors are restored (a restore of 1M vehicles takes over a
  // minute, and an orchestrator must see a live process meanwhile): /healthz answers, /readyz
  // says "starting", intake answers 503 NOT_READY and streams are closed with 1013 until then.
  let started = false;
  let accepting = true;
  const ready = () => started && accepting;
  let cluster: ClusterOps | null = null;
  const intakeCredentials = new IntakeCredentials(auth, directory);
  // Every node holds every vehicle's view (its own and the replica): the last fix is local.
  const lastFix = (deviceId: string) => index.get(directory.vehicleIdOf(deviceId));
  // One source of truth per deployment: PostgreSQL when configured, else the fleet.reference topic.
  const referenceWriter = infra.pool ? new PgReferenceWriter(infra.pool) : new TopicReferenceWriter(infra.bus);
  const appliedChanges = new AppliedReferenceChanges();
  // SSE streams get the same subscriber actors, with a JSON event encoder per connection.
  const sseStreams = new SseEndpoint(system, subscriberDeps, {
    heartbeatMs: config.sseHeartbeatS * 1000,
  }, ready);
  sse = sseStreams;
  transport.onRequest(createHttpApi({
    reference: referenceRoutes({ directory, writer: referenceWriter, applied: appliedChanges, verifier: auth }),
    sse: (path) => sseStreams.route(path),
    cluster: () => cluster,
    intake, intakeCredentials, lastFix, index, verifier: auth, snapshotLimit: config.snapshotLimit,
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    readiness: () => {
      const h = supervisor?.health;
      // A consumer that crashed applies nothing until its restart succeeds: not ready meanwhile.
      const consumer = supervisor?.consumerStatus;
      const consuming = !started || (consumer?.running ?? true);
      const components: Record<string, string> = {
        bus: infra.bus.kind, snapshots: infra.snapshots.kind, history: infra.history.kind,
        checkpoints: started ? (h?.checkpoints ?? 'starting') : 'starting',
        ...(h?.lastFailure ? { lastCheckpointFailure: h.lastFailure } : {}),
        consumer: consuming ? (started ? 'running' : 'starting') : `down (${consumer?.lastCrash ?? 'stopped'})`,
      };
      return { ready: ready() && consuming, components };
    },
    ready,
    demoToken,
    history: infra.historyReader,
    roster: directory,
    observeHistory: (route, seconds) => metrics.historyRequest(route, seconds),
  }));
  const streams = stream;
  transport.websocket('/v1/stream', {
    open: (conn, upgrade) => {
      if (ready()) return streams.open(conn, upgrade);
      conn.close(CloseCodes.NOT_READY, started ? 'shutting down' : 'starting: actors are being restored, try again');
      return { message: () => {}, drain: () => {}, closed: () => {} };
    },
  });
  const port = await transport.listen(config.host, config.port);
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  let osmand: { transport: Transport; port: number } | null = null;
  if (config.osmandPort !== null) {
    const osmandTransport = createTransport(transport.kind, transportOptions, log);
    osmandTransport.onRequest(createOsmandApi({ intake, intakeCredentials, lastFix, ready }));
    try {
      osmand = { transport: osmandTransport, port: await osmandTransport.listen(config.host, config.osmandPort) };
    } catch (e) {
      await transport.close(CloseCodes.SHUTTING_DOWN, 'start failed');
      await infra.close().catch(() => {});
      throw new Error(`OsmAnd port ${config.host}:${config.osmandPort} (OSMAND_PORT; off disables it): ${(e as Error).message}`);
    }
  }
  log.info({ port, osmandPort: osmand?.port ?? null, transport: transport.kind, bus: infra.bus.kind, snapshots: infra.snapshots.kind }, 'fleetline node listening');

  // On Kafka a node is one of several: partitions go by consistent hash of the nodes' ids, and
  // every node serves every vehicle through the replica of the others (engine/fleet-replication.ts).
  const clustered = infra.bus.kind === 'kafka';
  const replication = clustered
    ? fleetReplication({ config, bus: infra.bus, durableSnapshots: infra.durableSnapshots, directory, index, hub, metrics, log })
    : null;
  const brokers = config.kafkaBrokers?.split(',').map((b) => b.trim()) ?? [];
  cluster = clustered
    ? clusterOps({
        nodeId: config.nodeId, weight: config.nodeWeight, log,
        url: config.advertisedUrl ?? `http://${config.host === '0.0.0.0' ? hostname() : config.host}:${port}`,
        supervisor: () => shards,
        shardMap: () => inspectGroup({ brokers, groupId: config.kafkaTopicPrefix + ConsumerGroups.engine, topic: config.kafkaTopicPrefix + Topics.telemetryRaw }),
        close: () => close(),
        rebalanced: (seconds) => metrics.rebalanced(seconds),
        partitionOf: (deviceId) => partitionForKey(deviceId, infra.bus.partitionsOf(Topics.telemetryRaw)),
        vehiclePartition: (vehicleId) => vehiclePartition(vehicleId, infra.bus.partitionsOf(Topics.telemetryRaw)),
        devicesOf: (vehicleId) => directory.devicesOf(vehicleId),
      })
    : null;
  supervisor = new ShardSupervisor({
    system, directory, index, hub, metrics, logger: log, decodeRecord: decodeRecordValue,
    bus: infra.bus, snapshots: infra.snapshots, history: infra.history, currentState: infra.currentState, encodeRecords: encodeMsgpackBatch,
    ...(replication ? { live: replication.live } : {}),
    vehiclePartition: (vehicleId) => vehiclePartition(vehicleId, partitions),
    options: {
      groupId: ConsumerGroups.engine, checkpointIntervalMs: config.checkpointIntervalMs, maxPendingPositions: config.maxPendingPositions,
      ...(config.snapshotIntervalMs > 0 ? { snapshotIntervalMs: config.snapshotIntervalMs } : {}),
      maxResidentActors: config.maxResidentActors, ...(config.passivateAfterS > 0 ? { passivateAfterMs: config.passivateAfterS * 1000 } : {}),
      ...(cluster ? { member: cluster.member, replicated: true } : {}),
    },
  });
  const shards = supervisor;
  const applyChange = (change: ReferenceChange) => {
    supervisor?.applyReference(change).then(
      () => appliedChanges.applied(change),
      (e: Error) => log.error({ err: e.message, change: change.kind, id: change.id }, 'reference change not applied'),
    );
  };
  let stopTopic = async () => {};
  const stopFollowing = async () => {
    await stopTopic();
    await stopSource();
  };
  try {
    const restoreStarted = Date.now();
    await replication?.follow((partition) => shards.holds(partition));
    await supervisor.start();
    await replication?.fill();
    onReferenceChange = applyChange;
    for (const change of early.splice(0)) applyChange(change);
    stopTopic = await followReferenceTopic(infra.bus, config.nodeId, log, applyChange);
    started = true;
    log.info({ actors: supervisor.actors, restoreMs: Date.now() - restoreStarted }, 'fleetline node ready');
  } catch (e) {
    await stopFollowing().catch(() => {});
    await supervisor.stop().catch(() => {});
    await replication?.stop().catch(() => {});
    await transport.close(CloseCodes.SHUTTING_DOWN, 'start failed');
    await osmand?.transport.close(CloseCodes.SHUTTING_DOWN, 'start failed');
    stopActor(system);
    await infra.close().catch(() => {});
    throw e;
  }
  if (demo) demo.start(intake, log);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      flushPace.stop();
      demo?.stop();
      await stopFollowing();
      await supervisor.stop();
      await replication?.stop();
      await transport.close(CloseCodes.SHUTTING_DOWN, 'shutting down');
      await osmand?.transport.close(CloseCodes.SHUTTING_DOWN, 'shutting down');
      stopActor(system);
      await sessions.close().catch((e: Error) => log.warn({ err: e.message }, 'stream sessions not saved at shutdown'));
      await infra.close();
      log.info({}, 'fleetline node stopped');
    })();
    return closing;
  };
  return { port, url, transport: transport.kind, osmandPort: osmand?.port ?? null, auth, demoToken, index, supervisor, hub, sse: sseStreams, infrastructure: infra, cluster, close };
}
