import type { SnapshotStore } from '../../actors/ports/snapshot-store.js';
import { FencedWriteError } from '../../actors/ports/snapshot-store.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

/** Snapshots in process memory, epoch-fenced like the real stores (single-node embedded mode). */
export class MemorySnapshotStore implements SnapshotStore {
  readonly kind = 'memory';
  private readonly epochs = new Map<number, number>();
  private readonly data = new Map<number, Map<string, VehicleSnapshot>>();

  async acquire(partition: number): Promise<number> {
    const epoch = (this.epochs.get(partition) ?? 0) + 1;
    this.epochs.set(partition, epoch);
    return epoch;
  }

  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    const current = this.epochs.get(partition) ?? 0;
    if (epoch !== current) throw new FencedWriteError(partition, epoch, current);
    let p = this.data.get(partition);
    if (!p) this.data.set(partition, (p = new Map()));
    for (const s of snapshots) p.set(s.vehicleId, s);
  }

  async load(partition: number): Promise<VehicleSnapshot[]> {
    return [...(this.data.get(partition)?.values() ?? [])];
  }

  async *loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    const all = await this.load(partition);
    if (all.length > 0) yield all;
  }

  async loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    return this.data.get(partition)?.get(vehicleId);
  }

  async loadMany(partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]> {
    const data = this.data.get(partition);
    return vehicleIds.flatMap((id) => data?.get(id) ?? []);
  }

  async close(): Promise<void> {}
}
