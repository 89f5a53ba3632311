import { FencedWriteError, hasCompleteMark, hasOwnershipLease, loadManyOf, type CompletenessMark, type LeaseWait, type OwnershipLease, type SnapshotStore } from './ports/snapshot-store.js';
import type { VehicleSnapshot } from './domain/vehicle-state.js';

export type HotOperation = 'acquire' | 'save' | 'load' | 'release' | 'lease';

export interface TieredSnapshotStoreOptions {
  /**
   * Called when the hot tier fails while the durable tier carried the operation (the operation
   * itself still succeeds). Must not throw.
   */
  readonly onHotFailure?: (error: Error, operation: HotOperation, partition: number) => void;
  /**
   * How load() picks its source:
   * - 'hot-first' (default): the hot tier's snapshots when the previous owner handed the
   *   partition off with the hot tier complete (see CompletenessMark), else the durable tier's.
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
 *
 * Completeness. The hot tier is a cache that may lose data (Redis without persistence, a
 * restart, an eviction), and a cache that holds *some* vehicles of a partition says nothing about
 * the others. So the durable tier, which is written first and is never behind, is what a
 * restore reads unless the hot tier is known to be complete: the previous owner left a
 * completeness mark in it at a clean hand-off (release()), and acquire() takes that mark away
 * (atomically), so a node that dies leaves none. An owner knows its hot tier is complete when it
 * restored from a marked hot tier, or from the durable tier while copying every page into the
 * hot one (the repair after a cache loss); a fenced hot write (the hot epoch vanished: the cache
 * lost its data) or a hot backlog still unwritten at release makes it incomplete. Reading the
 * durable tier costs a restore its speed once after a crash or a cache loss, never a vehicle.
 *
 * Leases. The hot tier also carries the owners' leases (OwnershipLease): a new owner waits for
 * a live previous owner's release before it takes the epoch, so that owner's last checkpoint is
 * written (not fenced) and its completeness mark is there to take. A hot tier that fails only
 * ends the wait early.
 */
export class TieredSnapshotStore implements SnapshotStore, OwnershipLease {
  readonly kind: string;
  private readonly fences = new Map<number, HotFence>();
  /** Snapshots the hot tier has not received yet, per partition, by vehicle id. */
  private readonly behind = new Map<number, Map<string, VehicleSnapshot>>();
  /** Serialises the hot writes of one partition in the order their durable writes finished. */
  private readonly hotQueue = new Map<number, Promise<void>>();
  /** Partitions whose previous owner left the hot tier marked complete (taken at acquire). */
  private readonly markedAtAcquire = new Set<number>();
  /** Partitions whose hot tier this owner knows to hold every vehicle. */
  private readonly hotComplete = new Set<number>();
  private readonly marks: CompletenessMark | null;
  private readonly leases: OwnershipLease | null;
  /** Partitions being restored from a hot tier marked complete: their lookups read it too. */
  private readonly restoringFromHot = new Set<number>();

  constructor(
    readonly hot: SnapshotStore,
    readonly durable: SnapshotStore,
    private readonly options: TieredSnapshotStoreOptions = {},
  ) {
    this.kind = `tiered(${hot.kind}+${durable.kind})`;
    this.marks = hasCompleteMark(hot) ? hot : null;
    this.leases = hasOwnershipLease(hot) ? hot : null;
  }

  async holdLease(partition: number, epoch: number, ttlMs: number): Promise<void> {
    const fence = this.fences.get(partition);
    if (this.leases === null || fence === undefined || fence.durable !== epoch) return;
    try {
      await this.leases.holdLease(partition, fence.hot, ttlMs);
    } catch (e) {
      this.report(e, 'lease', partition);
    }
  }

  async dropLease(partition: number): Promise<void> {
    try {
      await this.leases?.dropLease(partition);
    } catch (e) {
      this.report(e, 'lease', partition);
    }
  }

  async awaitRelease(partition: number, timeoutMs: number): Promise<LeaseWait> {
    if (this.leases === null) return 'none';
    try {
      return await this.leases.awaitRelease(partition, timeoutMs);
    } catch (e) {
      this.report(e, 'lease', partition);
      return 'none';
    }
  }

  async acquire(partition: number): Promise<number> {
    const epoch = await this.durable.acquire(partition);
    this.forget(partition); // new ownership: the durable tier is the truth now
    try {
      const hot = await this.hot.acquire(partition);
      this.fences.set(partition, { durable: epoch, hot });
      // After the hot acquire: an old owner's late markComplete is fenced by then.
      if (this.marks !== null && (await this.marks.takeCompleteMark(partition, hot, epoch))) this.markedAtAcquire.add(partition);
    } catch (e) {
      this.report(e, 'acquire', partition);
    }
    return epoch;
  }

  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    try {
      await this.durable.save(partition, epoch, snapshots);
    } catch (e) {
      // The partition belongs to someone else now: forget its hot state here.
      if (e instanceof FencedWriteError) this.forget(partition);
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
   * The hot tier's pages when it was marked complete at acquire; otherwise the durable tier's,
   * each also written to the hot tier (repair) when this store owns the partition. A hot failure
   * after some pages is followed by every durable page: the vehicles already given keep their
   * (equal) hot snapshot, as the first one counts.
   */
  async *loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    if (this.options.loadMode === 'freshest') {
      yield await this.loadFreshest(partition);
      return;
    }
    if (this.markedAtAcquire.delete(partition)) {
      this.restoringFromHot.add(partition);
      try {
        for await (const page of this.hot.loadPages(partition)) yield page;
        this.hotComplete.add(partition);
        return;
      } catch (e) {
        this.report(e, 'load', partition);
      } finally {
        this.restoringFromHot.delete(partition);
      }
    }
    yield* this.loadDurableRepairing(partition);
  }

  private async *loadDurableRepairing(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    const fence = this.fences.get(partition);
    // Repair writes overlap the next durable page; one failure ends them (the tier stays unmarked).
    let repaired: Promise<boolean> = Promise.resolve(fence !== undefined);
    try {
      for await (const page of this.durable.loadPages(partition)) {
        if (fence !== undefined) {
          repaired = repaired.then((ok) => ok && this.hot.save(partition, fence.hot, page).then(() => true, (e: unknown) => {
            this.report(e, 'save', partition);
            return false;
          }));
        }
        yield page;
      }
    } finally {
      // Not one repair write outlives the read (a failed or abandoned one too): the owner's own
      // saves come after it, and an older snapshot must never land on a newer one.
      await repaired;
    }
    if ((await repaired) && this.fences.get(partition) === fence) this.hotComplete.add(partition);
  }

  /** A clean hand-off: marks the hot tier complete when this owner knows it is (see the class comment). */
  async release(partition: number, epoch: number): Promise<void> {
    await this.hotQueue.get(partition);
    const fence = this.fences.get(partition);
    const complete = fence !== undefined && fence.durable === epoch && this.hotComplete.has(partition) && !this.behind.has(partition);
    this.forget(partition);
    if (!complete || this.marks === null) return;
    try {
      await this.marks.markComplete(partition, fence.hot, fence.durable);
    } catch (e) {
      this.report(e, 'release', partition);
    }
  }

  /** Whether this owner knows the hot tier holds every vehicle of the partition (for tests and metrics). */
  isHotComplete(partition: number): boolean {
    return this.hotComplete.has(partition);
  }

  private forget(partition: number): void {
    this.fences.delete(partition);
    this.behind.delete(partition);
    this.markedAtAcquire.delete(partition);
    this.hotComplete.delete(partition);
  }

  /** From the durable tier: it is written first, so it is never behind the hot one. */
  loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    return this.durable.loadOne(partition, vehicleId);
  }

  /**
   * From the durable tier, like loadOne; from the hot tier while the partition is restored from
   * it (marked complete, and nobody writes before the restore ends: it is as fresh as the durable).
   */
  async loadMany(partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]> {
    if (this.restoringFromHot.has(partition)) {
      try {
        return await loadManyOf(this.hot, partition, vehicleIds);
      } catch (e) {
        this.report(e, 'load', partition);
      }
    }
    return loadManyOf(this.durable, partition, vehicleIds);
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
      if (e instanceof FencedWriteError) {
        // A newer hot epoch, or none at all: the hot tier lost its data (or the partition moved).
        this.fences.delete(partition);
        this.hotComplete.delete(partition);
      }
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
