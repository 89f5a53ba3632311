import type { VehicleView } from '../domain/vehicle-state.js';

/**
 * Current state published for other readers (Redis: one hash per vehicle + a GEO index), written
 * in pipelined batches at checkpoints. Separate from the node-local StateIndex that serves reads.
 */
export interface CurrentStateStore {
  readonly kind: string;
  write(views: readonly VehicleView[]): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  get(id: string): Promise<VehicleView | undefined>;
  close(): Promise<void>;
}
