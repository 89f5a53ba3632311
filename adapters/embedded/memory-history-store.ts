import type { HistoryStore, PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';

/**
 * The embedded default keeps no history: the live state is in the actors, the events reach
 * the clients through the delivery hub, and durable history is PostgreSQL's job.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory';

  async appendPositions(_rows: readonly PositionRow[]): Promise<void> {}

  async appendEvents(_events: readonly VehicleEvent[]): Promise<void> {}

  async upsertSegments(_segments: readonly TripSegment[]): Promise<void> {}

  async close(): Promise<void> {}
}
