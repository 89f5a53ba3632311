import { FencedWriteError, type SnapshotStore } from './ports/snapshot-store.js';
import type { VehicleSnapshot } from './domain/vehicle-state.js';

export type HotOperation = 'acquire' | 'save' | 'load';

export interface TieredSnapshotStoreOptions {
  /**
   * Called when the hot tier fails while the durable tier carried the operation (the operation
   * itself still succeeds). Must not throw.
   */
  readonly onHotFailure?: (error: Error, operation: HotOperation, partition: number) => void;
  /**
   * How load() picks its source:
   * - 'hot-first' (default): the hot tier's snapshots when it has any, else the durable tier's.
   * - 'freshest': reads both and keeps the newer snapshot of each vehicle (by view.ts, then
   *   accepted). Slower (always reads the durable tier), but immune to a hot tier that lost
   *   writes (restored from an old Redis dump, or the last owner died with a hot write pending).
   */
  readonly loadMode?: 'hot-first' | 'freshest';
}

interface HotFence {
  /** The durable epoch (the fence of record) this hot epoch was taken under. */
  readonly durable: number;
  readonly hot: number;
}

/**
 * Two snapshot tiers behind one SnapshotStore: a hot one (Redis: fast loads) and a durable one
 * (PostgreSQL: survives anything). Imports ports only.
 *
 * Fencing. The durable epoch is the fence of record: acquire() returns it, and save() writes the
 * durable tier first, so a node that lost the partition is rejected there and never reaches the
 * hot tier. The hot tier keeps its own counter (INCR in Redis, which starts over when Redis loses
 * its data), so the two numbers need not be equal; instead, every acquire() takes a hot epoch
 * too, *after* the durable one, and this store remembers the pair. Saves are then fenced in both
 * tiers, each with its own number. Because every owner takes the durable epoch before the hot
 * one, a hot write rejected as fenced means a newer owner exists, whose acquire has already
 * fenced us in the durable tier as well.
 * When the hot tier was down at acquire time (or a hot save was fenced), the next save whose
 * durable write succeeded takes a fresh hot epoch: that durable success proves this node is the
 * owner of record at that moment. If an old owner does this in the instant after a takeover, it
 * fences the new owner's hot writes once; the new owner then re-takes a hot epoch on its next
 * save, and the old owner's next durable save is fenced, so this settles after one round.
 *
 * Failures. save() succeeds when the durable write succeeded, whatever the hot tier does; hot
 * failures go to onHotFailure, and the snapshots the hot tier missed are kept (one per vehicle,
 * latest wins) and written with the next hot save, so the hot tier catches up once it is back.
 * load() reads the hot tier and falls back to the durable one when the hot tier has nothing or
 * fails (see loadMode for the stricter alternative).
 */
export class TieredSnapshotStore implements SnapshotStore {
  readonly kind: string;
  private readonly fences = new Map<number, HotFence>();
  /** Snapshots the hot tier has not received yet, per partition, by vehicle id. */
  private readonly behind = new Map<number, Map<string, VehicleSnapshot>>();
  /** Serialises the hot writes of one partition in the order their durable writes finished. */
  private readonly hotQueue = new Map<number, Promise<void>>();

  constructor(
    readonly hot: SnapshotStore,
    readonly durable: SnapshotStore,
    private readonly options: TieredSnapshotStoreOptions = {},
  ) {
    this.kind = `tiered(${hot.kind}+${durable.kind})`;
  }

  async acquire(partition: number): Promise<number> {
    const epoch = await this.durable.acquire(partition);
    this.fences.delete(partition);
    this.behind.delete(partition); // new ownership: the durable tier is the truth now
    try {
      this.fences.set(partition, { durable: epoch, hot: await this.hot.acquire(partition) });
    } catch (e) {
      this.report(e, 'acquire', partition);
    }
    return epoch;
  }

  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    try {
      await this.durable.save(partition, epoch, snapshots);
    } catch (e) {
      if (e instanceof FencedWriteError) {
        // The partition belongs to someone else now: forget its hot state here.
        this.fences.delete(partition);
        this.behind.delete(partition);
      }
      throw e;
    }
    const previous = this.hotQueue.get(partition) ?? Promise.resolve();
    const next = previous.then(() => this.saveHot(partition, epoch, snapshots));
    this.hotQueue.set(partition, next);
    await next;
    if (this.hotQueue.get(partition) === next) this.hotQueue.delete(partition);
  }

  async load(partition: number): Promise<VehicleSnapshot[]> {
    if (this.options.loadMode === 'freshest') return this.loadFreshest(partition);
    const out = new Map<string, VehicleSnapshot>();
    for await (const page of this.loadPages(partition)) {
      for (const s of page) if (!out.has(s.vehicleId)) out.set(s.vehicleId, s);
    }
    return [...out.values()];
  }

  /**
   * The hot tier's pages; the durable tier's when the hot one has nothing or fails. A hot
   * failure after some pages is followed by every durable page: the vehicles already given
   * keep their (newer or equal) hot snapshot, as the first one counts.
   */
  async *loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    if (this.options.loadMode === 'freshest') {
      yield await this.loadFreshest(partition);
      return;
    }
    let hotPages = 0;
    try {
      for await (const page of this.hot.loadPages(partition)) {
        hotPages++;
        yield page;
      }
    } catch (e) {
      this.report(e, 'load', partition);
      hotPages = 0;
    }
    if (hotPages === 0) yield* this.durable.loadPages(partition);
  }

  /** From the durable tier: it is written first, so it is never behind the hot one. */
  loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    return this.durable.loadOne(partition, vehicleId);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.hotQueue.values()]);
    const results = await Promise.allSettled([this.hot.close(), this.durable.close()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Vehicles whose latest snapshot the hot tier has not received yet (0 when in sync). */
  hotBacklog(partition?: number): number {
    if (partition !== undefined) return this.behind.get(partition)?.size ?? 0;
    let n = 0;
    for (const m of this.behind.values()) n += m.size;
    return n;
  }

  /** Never rejects: a hot failure is reported, and its snapshots are kept for the next save. */
  private async saveHot(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    const missed = this.behind.get(partition);
    let batch: readonly VehicleSnapshot[] = snapshots;
    if (missed && missed.size > 0) {
      const merged = new Map(missed);
      for (const s of snapshots) merged.set(s.vehicleId, s);
      batch = [...merged.values()];
    }
    try {
      let fence = this.fences.get(partition);
      if (fence === undefined || fence.durable !== epoch) {
        fence = { durable: epoch, hot: await this.hot.acquire(partition) };
        this.fences.set(partition, fence);
      }
      await this.hot.save(partition, fence.hot, batch);
      this.behind.delete(partition);
    } catch (e) {
      if (e instanceof FencedWriteError) this.fences.delete(partition);
      const keep = this.behind.get(partition) ?? new Map<string, VehicleSnapshot>();
      for (const s of snapshots) keep.set(s.vehicleId, s);
      this.behind.set(partition, keep);
      this.report(e, 'save', partition);
    }
  }

  private async loadFreshest(partition: number): Promise<VehicleSnapshot[]> {
    const [hot, durable] = await Promise.allSettled([this.hot.load(partition), this.durable.load(partition)]);
    if (hot.status === 'rejected') {
      this.report(hot.reason, 'load', partition);
      if (durable.status === 'rejected') throw durable.reason;
      return durable.value;
    }
    if (durable.status === 'rejected') throw durable.reason;
    const newest = new Map<string, VehicleSnapshot>();
    for (const s of durable.value) newest.set(s.vehicleId, s);
    for (const s of hot.value) {
      const d = newest.get(s.vehicleId);
      if (d === undefined || isNewer(s, d)) newest.set(s.vehicleId, s);
    }
    return [...newest.values()];
  }

  private report(e: unknown, operation: HotOperation, partition: number): void {
    const error = e instanceof Error ? e : new Error(String(e));
    try {
      this.options.onHotFailure?.(error, operation, partition);
    } catch {
      // a failing callback must not turn a successful durable operation into a failure
    }
  }
}

function isNewer(a: VehicleSnapshot, b: VehicleSnapshot): boolean {
  if (a.view.ts !== b.view.ts) return a.view.ts > b.view.ts;
  return a.accepted > b.accepted;
}
