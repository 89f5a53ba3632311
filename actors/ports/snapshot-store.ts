import type { VehicleSnapshot } from '../domain/vehicle-state.js';

/**
 * Durable actor snapshots, written in batches per partition and fenced by the owner's epoch:
 * a node that has lost a partition can never overwrite its new owner's state.
 */
export interface SnapshotStore {
  readonly kind: string;
  /** Takes ownership of a partition: returns a new epoch, higher than any before it. */
  acquire(partition: number): Promise<number>;
  /**
   * Writes snapshots of one partition. Rejects with a FencedWriteError when `epoch` is no
   * longer the partition's current epoch.
   */
  save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void>;
  /** Every snapshot of a partition, one vehicle once. */
  load(partition: number): Promise<VehicleSnapshot[]>;
  /**
   * The same snapshots page by page, for restoring a partition without holding all of them
   * at once. A vehicle may come twice (a Redis HSCAN may return a field twice; a tier that
   * fails mid-way is followed by the other tier's pages): the first one counts.
   */
  loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]>;
  /** The snapshot of one vehicle (a crashed actor is restored from it); undefined when none. */
  loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined>;
  /**
   * The snapshots of some vehicles of a partition in one round trip (vehicles without one are
   * left out): a partition that applies points while it is restored looks up the vehicles whose
   * points came before their page. Stores without it are asked vehicle by vehicle.
   */
  loadMany?(partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]>;
  /**
   * The owner hands the partition off cleanly (after its last checkpoint was written). Tiers
   * that cache may record here that they are complete; the others do nothing.
   */
  release?(partition: number, epoch: number): Promise<void>;
  close(): Promise<void>;
}

/** How the wait for a partition's previous owner ended (see OwnershipLease.awaitRelease). */
export type LeaseWait = 'none' | 'own' | 'released' | 'timed-out';

/**
 * A live owner's lease on a partition: renewed while it holds the partition, dropped when it
 * hands the partition off. Kafka tells the old owner that it lost a partition at the moment it
 * tells the new one that it has it; a new owner that took the epoch at once fenced the old
 * owner's last checkpoint (and its completeness mark with it: the restore then read the durable
 * tier). With the lease the new owner waits, bounded, for a live owner's hand-off instead.
 * Only a speed-up: a lease that expired, or an owner that never comes, ends the wait, and the
 * epoch fences the late writer as before.
 */
export interface OwnershipLease {
  /** Holds (or renews) the lease for `ttlMs`, as the owner of `epoch`; a stale owner's is ignored. */
  holdLease(partition: number, epoch: number, ttlMs: number): Promise<void>;
  /** Drops this process's lease (the partition was handed off, or given up). */
  dropLease(partition: number): Promise<void>;
  /**
   * Before an acquire: waits while another process holds a lease on the partition, at most
   * `timeoutMs`. 'none': nobody held one; 'own': this process did (it re-acquires); 'released':
   * the holder dropped it (or let it expire); 'timed-out': it still holds it.
   */
  awaitRelease(partition: number, timeoutMs: number): Promise<LeaseWait>;
}

export function hasOwnershipLease(store: SnapshotStore): store is SnapshotStore & OwnershipLease {
  const s = store as Partial<OwnershipLease>;
  return typeof s.holdLease === 'function' && typeof s.dropLease === 'function' && typeof s.awaitRelease === 'function';
}

/**
 * A cache tier that can record that it holds every snapshot of a partition: set by an owner's
 * clean hand-off, taken away by the next owner's acquire. A restore trusts the cache alone only
 * when the mark was there; a crash, or a cache that lost its data, leaves no mark.
 */
export interface CompletenessMark {
  /**
   * Reads and removes the mark (atomically). True only when it was set by the ownership just
   * before the caller's: this tier's `epoch` - 1 and the durable tier's `durableEpoch` - 1 (the
   * durable epoch cannot go back with a restored copy of this tier, so a mark that survived in
   * a dump, or that skipped an owner, is not trusted).
   */
  takeCompleteMark(partition: number, epoch: number, durableEpoch: number): Promise<boolean>;
  /** Sets the mark, fenced by this tier's epoch: rejects with FencedWriteError for a stale owner. */
  markComplete(partition: number, epoch: number, durableEpoch: number): Promise<void>;
}

/** `store.loadMany`, or `loadOne` per vehicle for a store without it. */
export async function loadManyOf(store: SnapshotStore, partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]> {
  if (store.loadMany) return store.loadMany(partition, vehicleIds);
  const found = await Promise.all(vehicleIds.map((id) => store.loadOne(partition, id)));
  return found.filter((s): s is VehicleSnapshot => s !== undefined);
}

export function hasCompleteMark(store: SnapshotStore): store is SnapshotStore & CompletenessMark {
  const s = store as Partial<CompletenessMark>;
  return typeof s.takeCompleteMark === 'function' && typeof s.markComplete === 'function';
}

export class FencedWriteError extends Error {
  readonly code = 'FENCED_WRITE';
  constructor(readonly partition: number, readonly epoch: number, readonly currentEpoch: number) {
    super(`snapshot write for partition ${partition} fenced: epoch ${epoch} < current ${currentEpoch}`);
    this.name = 'FencedWriteError';
  }
}

/** Stores reject a partition number that cannot be one before touching the server. */
export function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition must be a non-negative integer, got ${partition}`);
}
