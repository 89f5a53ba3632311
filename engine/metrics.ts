import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineMetrics } from '../actors/ports/engine-metrics.js';
import type { ConsumerStatus } from '../actors/ports/partitioned-log.js';

interface GaugeSources {
  actors(): number;
  mailboxDepth(): number;
  connections(): number;
  sseConnections(): number;
  consumerLag(): Map<number, number>;
  /** The telemetry.raw consumer; null before it started. */
  consumer(): ConsumerStatus | null;
}

/** Prometheus metrics of one node (`GET /metrics`). */
export class PrometheusMetrics implements EngineMetrics {
  readonly registry = new Registry();
  private readonly accepted: Counter;
  private readonly rejected: Counter<'reason' | 'source'>;
  private readonly eventsTotal: Counter;
  private readonly frames: Counter<'type'>;
  private readonly bytes: Counter;
  private readonly latency: Histogram;
  private readonly deferred: Counter;
  private readonly clientErrors: Counter<'code'>;
  private readonly checkpointSeconds: Histogram;
  private readonly checkpointSnapshots: Counter;
  private readonly checkpointFailures: Counter<'stage'>;
  private readonly checkpointStages: Histogram<'stage'>;
  private readonly fenced: Counter;
  private readonly crashes: Counter<'partition'>;
  private readonly replayed: Counter<'partition'>;
  private readonly moves: Histogram<'direction'>;
  private readonly rebalances: Histogram;
  private readonly passivations: Counter<'what'>;
  private readonly forwarded: Counter;
  private readonly historyReads: Histogram<'route'>;
  private readonly resumes: Counter<'outcome'>;
  private readonly sessionSaves: Counter;

  constructor(nodeId: string, transportKind: string, sources: GaugeSources) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: 'fleetline_process_' });
    const r = [this.registry];
    this.accepted = new Counter({ name: 'fleetline_points_accepted_total', help: 'Points accepted by vehicle actors.', registers: r });
    this.rejected = new Counter({ name: 'fleetline_points_rejected_total', help: 'Points rejected, by reason code and where.', labelNames: ['reason', 'source'], registers: r });
    this.eventsTotal = new Counter({ name: 'fleetline_events_total', help: 'Vehicle events emitted.', registers: r });
    this.frames = new Counter({ name: 'fleetline_ws_frames_sent_total', help: 'WebSocket frames sent, by type.', labelNames: ['type'], registers: r });
    this.bytes = new Counter({ name: 'fleetline_ws_bytes_sent_total', help: 'WebSocket payload bytes sent.', registers: r });
    this.latency = new Histogram({
      name: 'fleetline_delivery_latency_seconds', help: 'From a point entering the engine to its delta leaving in a frame.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5], registers: r,
    });
    this.deferred = new Counter({ name: 'fleetline_ws_flushes_deferred_total', help: 'Flushes held back because a client was slow (its deltas kept coalescing).', registers: r });
    this.clientErrors = new Counter({ name: 'fleetline_ws_client_errors_total', help: 'WebSocket clients refused or closed, by error code: err frames sent, and limits the transport enforced (FRAME_TOO_LARGE, HEARTBEAT_TIMEOUT).', labelNames: ['code'], registers: r });
    this.checkpointSeconds = new Histogram({ name: 'fleetline_checkpoint_seconds', help: 'Time to flush one partition and commit its offset.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r });
    this.checkpointSnapshots = new Counter({ name: 'fleetline_checkpoint_snapshots_total', help: 'Actor snapshots written by checkpoints.', registers: r });
    this.checkpointFailures = new Counter({ name: 'fleetline_checkpoint_failures_total', help: 'Checkpoints that failed (and will be retried), by stage.', labelNames: ['stage'], registers: r });
    this.checkpointStages = new Histogram({
      name: 'fleetline_checkpoint_stage_seconds', help: 'Time of each stage of a partition checkpoint (outputs: publish to acks, overlapping the others; outputs-wait: what the checkpoint still waited for them).',
      labelNames: ['stage'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r,
    });
    this.fenced = new Counter({ name: 'fleetline_fenced_writes_total', help: 'Snapshot writes rejected because another node owns the partition now.', registers: r });
    this.moves = new Histogram({
      name: 'fleetline_partition_moves_seconds', help: 'Partitions that arrived on this node (acquire + restore) or left it (last checkpoint + hand-off), with the time each took.',
      labelNames: ['direction'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: r,
    });
    this.rebalances = new Histogram({ name: 'fleetline_rebalance_seconds', help: 'Rebalances this node asked for (weight, drain, rebalance), until its new assignment was running.', buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: r });
    this.forwarded = new Counter({ name: 'fleetline_points_forwarded_total', help: "Points whose vehicle lives in another partition than their device's record, forwarded there through telemetry.by-vehicle.", registers: r });
    this.passivations = new Counter({ name: 'fleetline_actor_passivations_total', help: 'Vehicle actors stopped while idle (passivated) and brought back by a point (reactivated).', labelNames: ['what'], registers: r });
    this.historyReads = new Histogram({
      name: 'fleetline_history_request_seconds', help: 'Track, events and report requests answered from PostgreSQL (query, simplification, encoding), by route.',
      labelNames: ['route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: r,
    });
    this.resumes = new Counter({ name: 'fleetline_ws_resumes_total', help: 'Stream resumes, by outcome: resumed (the gap was served), GAP_TOO_LARGE, EPOCH_CHANGED (a full snapshot in a new epoch), UNKNOWN_SESSION.', labelNames: ['outcome'], registers: r });
    this.sessionSaves = new Counter({ name: 'fleetline_ws_session_saves_total', help: 'Stream sessions written to the session store (Redis or memory), batched per WS_SESSION_SAVE_MS.', registers: r });
    this.crashes = new Counter({ name: 'fleetline_actor_crashes_total', help: 'Vehicle actors that threw while handling a message (restored from their last snapshot, then their points since replayed), by partition.', labelNames: ['partition'], registers: r });
    this.replayed = new Counter({ name: 'fleetline_actor_replayed_points_total', help: 'Points crashed vehicle actors applied again over their restored snapshot (stored and unwritten positions since it), by partition.', labelNames: ['partition'], registers: r });
    new Gauge({ name: 'fleetline_actors_alive', help: 'Resident vehicles on this node: with a spawned actor, or restored and waiting for their first message (no actor yet); passivated ones are not counted.', registers: r, collect() { this.set(sources.actors()); } });
    new Gauge({ name: 'fleetline_mailbox_depth', help: 'Messages dispatched to vehicle actors and not yet processed.', registers: r, collect() { this.set(sources.mailboxDepth()); } });
    new Gauge({ name: 'fleetline_ws_connections', help: 'Open WebSocket connections.', registers: r, collect() { this.set(sources.connections()); } });
    new Gauge({ name: 'fleetline_sse_connections', help: 'Open Server-Sent Events streams (GET /v1/sse).', registers: r, collect() { this.set(sources.sseConnections()); } });
    new Gauge({
      name: 'fleetline_consumer_lag', help: 'Records of telemetry.raw not yet consumed, per partition.', labelNames: ['partition'], registers: r,
      collect() {
        this.reset();
        for (const [p, lag] of sources.consumerLag()) this.set({ partition: String(p) }, lag);
      },
    });
    new Gauge({
      name: 'fleetline_consumer_running', help: 'Whether the telemetry.raw consumer runs (0 while it is down after a crash, until its restart succeeds).', registers: r,
      collect() { this.set(sources.consumer()?.running ? 1 : 0); },
    });
    new Counter({
      name: 'fleetline_consumer_restarts_total', help: 'Restarts of the telemetry.raw consumer after a crash.', registers: r,
      collect() {
        this.reset();
        this.inc(sources.consumer()?.restarts ?? 0);
      },
    });
    const info = new Gauge({ name: 'fleetline_transport_info', help: 'The HTTP/WebSocket server in use (uws = native uWebSockets.js, ws = portable).', labelNames: ['kind'], registers: r });
    info.set({ kind: transportKind }, 1);
  }

  pointsAccepted(n: number): void { this.accepted.inc(n); }
  pointRejected(reason: string, source: string): void { this.rejected.inc({ reason, source }); }
  eventsEmitted(n: number): void { this.eventsTotal.inc(n); }
  frameSent(type: string, bytes: number): void {
    this.frames.inc({ type });
    this.bytes.inc(bytes);
  }
  deliveryLatency(seconds: number): void { this.latency.observe(seconds); }
  flushDeferred(): void { this.deferred.inc(); }
  clientError(code: string): void { this.clientErrors.inc({ code }); }
  checkpoint(_partition: number, seconds: number, snapshots: number): void {
    this.checkpointSeconds.observe(seconds);
    this.checkpointSnapshots.inc(snapshots);
  }
  checkpointFailed(stage: string): void { this.checkpointFailures.inc({ stage }); }
  checkpointStage(stage: string, seconds: number): void { this.checkpointStages.observe({ stage }, seconds); }
  fencedWrite(): void { this.fenced.inc(); }
  actorCrashed(partition: number): void { this.crashes.inc({ partition: String(partition) }); }
  crashReplayed(partition: number, points: number): void { this.replayed.inc({ partition: String(partition) }, points); }
  partitionMoved(direction: 'acquired' | 'handed-off', seconds: number): void { this.moves.observe({ direction }, seconds); }
  rebalanced(seconds: number): void { this.rebalances.observe(seconds); }
  actorsPassivated(n: number): void { this.passivations.inc({ what: 'passivated' }, n); }
  actorsReactivated(n: number): void { this.passivations.inc({ what: 'reactivated' }, n); }
  pointsForwarded(n: number): void { this.forwarded.inc(n); }
  historyRequest(route: string, seconds: number): void { this.historyReads.observe({ route }, seconds); }
  resumed(outcome: string): void { this.resumes.inc({ outcome }); }
  sessionsSaved(n: number): void { this.sessionSaves.inc(n); }
}
