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
  /** Every snapshot of a partition (restoring actors when the partition is acquired). */
  load(partition: number): Promise<VehicleSnapshot[]>;
  close(): Promise<void>;
}

export class FencedWriteError extends Error {
  readonly code = 'FENCED_WRITE';
  constructor(readonly partition: number, readonly epoch: number, readonly currentEpoch: number) {
    super(`snapshot write for partition ${partition} fenced: epoch ${epoch} < current ${currentEpoch}`);
    this.name = 'FencedWriteError';
  }
}
