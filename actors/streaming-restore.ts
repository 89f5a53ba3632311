import type { VehicleSnapshot } from './domain/vehicle-state.js';

export interface StreamingRestoreOptions {
  /** The stored snapshots of some vehicles (one lookup); those without one are left out. Absent: pages only. */
  readonly loadMany?: (vehicleIds: readonly string[]) => Promise<readonly VehicleSnapshot[]>;
  /** Most vehicles in one lookup (default 500). */
  readonly maxBatch?: number;
  /** First delay before a failed lookup is tried again (default 200 ms; doubles up to 5 s). */
  readonly retryMs?: number;
}

/**
 * A partition whose owner applies points while its snapshots are still being read page by page
 * (the hand-off does not wait for the whole partition). A vehicle with points whose snapshot
 * has not been restored yet waits for it here: it gets it from whichever comes first, its page
 * of the restore or a lookup. Lookups are batched: one runs at a time, for every vehicle that
 * started waiting since the last one, so a partition where every vehicle sends costs a few
 * queries, not one per vehicle. Once every page was read, the vehicles still waiting have no
 * snapshot: they start afresh, as they would have after a whole restore.
 *
 * Correct because the owner took the partition's epoch before the first read: the previous
 * owner can write no snapshot after it, so a page and a lookup return the same snapshot.
 */
export class StreamingRestore {
  private readonly waiting = new Map<string, (snapshot: VehicleSnapshot | undefined) => void>();
  /** Waiting vehicles not looked up yet, in arrival order. */
  private queue: string[] = [];
  private looking = false;
  private failures = 0;
  private finished = false;
  private closed = false;

  constructor(private readonly options: StreamingRestoreOptions) {}

  /** Vehicles waiting for their snapshot now. */
  get size(): number {
    return this.waiting.size;
  }

  /** The vehicle's stored snapshot, once its page arrives or its lookup answers. */
  snapshotOf(vehicleId: string): Promise<VehicleSnapshot | undefined> {
    if (this.finished) return Promise.reject(new Error('streaming restore: already finished'));
    return new Promise((resolve) => {
      const previous = this.waiting.get(vehicleId);
      this.waiting.set(vehicleId, previous === undefined ? resolve : (s) => { previous(s); resolve(s); });
      if (previous === undefined) this.queue.push(vehicleId);
      // After the current turn: the other vehicles of the same batch join the same lookup.
      if (this.queue.length === 1) setImmediate(() => this.lookUp());
    });
  }

  /** The restore read the vehicle's snapshot (undefined: one that must not be restored). */
  arrived(vehicleId: string, snapshot: VehicleSnapshot | undefined): void {
    this.settle(vehicleId, snapshot);
  }

  /** Every page was read: whoever still waits has no snapshot. */
  finish(): void {
    this.finished = true;
    for (const id of [...this.waiting.keys()]) this.settle(id, undefined);
    this.queue = [];
  }

  /** The partition was closed: lookups stop (nobody waits for them any more). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private settle(vehicleId: string, snapshot: VehicleSnapshot | undefined): void {
    const resolve = this.waiting.get(vehicleId);
    if (resolve === undefined) return;
    this.waiting.delete(vehicleId);
    resolve(snapshot);
  }

  /**
   * One lookup at a time, of every vehicle still waiting in the queue. A failed one is retried
   * with backoff while they wait: their points wait behind them, and the partition cannot be
   * handed off before those are applied (starting them afresh would overwrite their stored state).
   */
  private lookUp(): void {
    const loadMany = this.options.loadMany;
    if (loadMany === undefined || this.looking || this.closed) return;
    const max = Math.max(1, this.options.maxBatch ?? 500);
    const ids: string[] = [];
    while (ids.length < max && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      if (this.waiting.has(id)) ids.push(id);
    }
    if (ids.length === 0) return;
    this.looking = true;
    void loadMany(ids).then((found) => {
      this.failures = 0;
      for (const s of found) this.settle(s.vehicleId, s);
      for (const id of ids) this.settle(id, undefined);
      return 0;
    }, () => {
      this.queue.unshift(...ids);
      return Math.min(5_000, (this.options.retryMs ?? 200) * 2 ** Math.min(this.failures++, 5));
    }).then(async (delay) => {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      this.looking = false;
      this.lookUp();
    });
  }
}
