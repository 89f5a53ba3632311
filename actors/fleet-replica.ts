import type { DeliveryHub } from './delivery-hub.js';
import type { StateIndex } from './ports/state-index.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { Logger } from './ports/logger.js';
import type { LogRecord } from './ports/partitioned-log.js';
import type { SnapshotStore } from './ports/snapshot-store.js';
import type { VehicleView } from './domain/vehicle-state.js';
import { toLiveBatch, type LiveBatch } from './live-updates.js';
import { diff } from './vehicle-logic.js';

export interface FleetReplicaDeps {
  readonly index: StateIndex;
  readonly hub: DeliveryHub;
  readonly metrics: EngineMetrics;
  readonly logger: Logger;
  readonly decodeRecord: (bytes: Uint8Array) => unknown;
  /** True when this node's own actors hold the partition: their changes arrive locally. */
  owns(partition: number): boolean;
}

/**
 * Snapshots compared and indexed per turn of the event loop during the first fill: live
 * changes (this node's own actors', vehicle.live's) and its clients' flushes run in between.
 */
const FILL_SLICE = 500;

/**
 * The read side of cross-node delivery: every node keeps the current view of every vehicle of
 * the cluster in its index, and serves it to its clients, from vehicle.live. Vehicles of the
 * partitions this node owns are skipped (their actors update the index directly); a view older
 * than the one held is stale (a replay, or the previous owner's last flush) and ignored.
 */
export class FleetReplica {
  constructor(private readonly deps: FleetReplicaDeps) {}

  /**
   * The first fill: every vehicle of every partition this node does not hold, from the durable
   * snapshot tier (read only). vehicle.live is followed from its end before this runs, so a
   * change made meanwhile is not missed; the newer of the two views wins.
   */
  async fill(snapshots: SnapshotStore, partitions: number, visible: (company: string | null) => boolean): Promise<number> {
    let filled = 0;
    for (let p = 0; p < partitions; p++) {
      if (this.deps.owns(p)) continue;
      for await (const page of snapshots.loadPages(p)) {
        for (let i = 0; i < page.length; i += FILL_SLICE) {
          // Compared when indexed: a live change that arrived meanwhile is newer and stays.
          const views: VehicleView[] = [];
          for (let j = i; j < Math.min(page.length, i + FILL_SLICE); j++) {
            const snap = page[j];
            const held = this.deps.index.get(snap.view.id);
            if (visible(snap.view.company) && (held === undefined || held.ts < snap.view.ts)) views.push(snap.view);
          }
          this.deps.index.upsertMany(views);
          filled += views.length;
          await new Promise((r) => setImmediate(r));
        }
      }
    }
    return filled;
  }

  /** Applies the records of one vehicle.live batch. */
  applyRecords(records: readonly LogRecord[]): void {
    for (const r of records) {
      if (r.value === null) continue;
      let batch: LiveBatch | null;
      try {
        batch = toLiveBatch(this.deps.decodeRecord(r.value));
      } catch {
        batch = null;
      }
      if (batch === null) {
        this.deps.metrics.pointRejected('UNDECODABLE', 'live');
        this.deps.logger.warn({ partition: r.partition, offset: r.offset }, 'vehicle.live record skipped: not a live batch');
        continue;
      }
      this.apply(batch);
    }
  }

  apply(batch: LiveBatch): void {
    if (this.deps.owns(batch.p)) return;
    const { index, hub } = this.deps;
    for (let i = 0; i < batch.v.length; i++) {
      const view = batch.v[i];
      const prev = index.get(view.id);
      if (prev !== undefined && view.ts < prev.ts) continue;
      const moved = prev === undefined || prev.lat !== view.lat || prev.lon !== view.lon;
      index.upsert(view, moved);
      if (prev !== undefined && prev.company !== view.company) {
        hub.publish({ id: view.id, company: prev.company, delta: null, view: null, receivedAt: batch.r[i] });
      }
      hub.publish({ id: view.id, company: view.company, delta: diff(prev ?? null, view), view, receivedAt: batch.r[i] });
    }
    for (const [id, company] of batch.g) {
      if (index.get(id) === undefined) continue;
      index.remove(id);
      hub.publish({ id, company, delta: null, view: null, receivedAt: Date.now() });
    }
    for (const e of batch.e) hub.publishEvent(e);
  }
}
