/** Counters the core reports; engine/metrics.ts implements them with prom-client. */
export interface EngineMetrics {
  pointsAccepted(n: number): void;
  pointRejected(reason: string, source: 'http' | 'log' | 'actor' | 'osmand' | 'live'): void;
  eventsEmitted(n: number): void;
  frameSent(type: string, bytes: number): void;
  deliveryLatency(seconds: number): void;
  flushDeferred(): void;
  clientError(code: string): void;
  checkpoint(partition: number, seconds: number, snapshots: number): void;
  checkpointFailed(stage: string): void;
  /**
   * Time one stage of a checkpoint took (history, snapshots, current state, outputs; `outputs`
   * from its start to its acks, `outputs-wait` the part of it the checkpoint still waited for
   * after its other stages).
   */
  checkpointStage(stage: string, seconds: number): void;
  fencedWrite(): void;
  /** A vehicle actor threw while handling a message (it was restored; the batch went on). */
  actorCrashed(partition: number): void;
  /** Points a crashed vehicle actor applied again over its restored snapshot (crash-replay.ts). */
  crashReplayed(partition: number, points: number): void;
  /** A partition arrived (restored: acquire to active) or left (hand-off: revoke to released). */
  partitionMoved(direction: 'acquired' | 'handed-off', seconds: number): void;
  /** Idle vehicles whose actor was stopped (passivation), and passivated ones brought back. */
  actorsPassivated(n: number): void;
  actorsReactivated(n: number): void;
  /** Points sent on to their vehicle's partition through telemetry.by-vehicle. */
  pointsForwarded(n: number): void;
  /** A `resume` answered: `resumed` (the gap served) or the reason it was not (GAP_TOO_LARGE, EPOCH_CHANGED, UNKNOWN_SESSION). */
  resumed(outcome: string): void;
  /** Stream sessions written to the session store (in batches). */
  sessionsSaved(n: number): void;
}

/** For tests and tools that do not export metrics. */
export const noMetrics: EngineMetrics = {
  pointsAccepted: () => {},
  pointRejected: () => {},
  eventsEmitted: () => {},
  frameSent: () => {},
  deliveryLatency: () => {},
  flushDeferred: () => {},
  clientError: () => {},
  checkpoint: () => {},
  checkpointFailed: () => {},
  checkpointStage: () => {},
  fencedWrite: () => {},
  actorCrashed: () => {},
  crashReplayed: () => {},
  partitionMoved: () => {},
  actorsPassivated: () => {},
  actorsReactivated: () => {},
  pointsForwarded: () => {},
  resumed: () => {},
  sessionsSaved: () => {},
};
