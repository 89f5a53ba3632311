import type { Logger } from 'pino';
import type { PartitionedLog } from '../actors/ports/partitioned-log.js';
import type { SnapshotStore } from '../actors/ports/snapshot-store.js';
import type { HistoryStore } from '../actors/ports/history-store.js';
import type { CurrentStateStore } from '../actors/ports/current-state-store.js';
import type { ReferenceSource } from '../actors/ports/reference-source.js';
import { EmbeddedLog } from '../adapters/embedded/embedded-log.js';
import { FileReferenceSource } from '../adapters/embedded/file-reference-source.js';
import { MemoryHistoryStore } from '../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../adapters/embedded/memory-snapshot-store.js';
import type { Config } from './config.js';

/** The bus and stores a node runs on: each one embedded unless its variable names a server. */
export interface Infrastructure {
  readonly bus: PartitionedLog;
  readonly snapshots: SnapshotStore;
  readonly history: HistoryStore;
  readonly currentState: CurrentStateStore | null;
  readonly reference: ReferenceSource;
  consumerLag(): Map<number, number>;
  close(): Promise<void>;
}

export async function createInfrastructure(config: Config, _log: Logger): Promise<Infrastructure> {
  const bus = new EmbeddedLog();
  const snapshots = new MemorySnapshotStore();
  const history = new MemoryHistoryStore();
  const reference = new FileReferenceSource(config.fleetFile);
  return {
    bus, snapshots, history, currentState: null, reference,
    consumerLag: () => new Map(),
    close: async () => {
      await bus.close();
      await snapshots.close();
      await history.close();
    },
  };
}
