import type { HistoryStore, PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';

/**
 * Embedded history: the most recent events (deduplicated by id) and a count of positions.
 * Bounded, because embedded mode runs for days on a laptop; durable history is PostgreSQL's job.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory';
  private readonly events = new Map<string, VehicleEvent>();
  positionsWritten = 0;

  constructor(private readonly maxEvents = 10_000) {}

  async appendPositions(rows: readonly PositionRow[]): Promise<void> {
    this.positionsWritten += rows.length;
  }

  async appendEvents(events: readonly VehicleEvent[]): Promise<void> {
    for (const e of events) {
      if (this.events.has(e.id)) continue;
      this.events.set(e.id, e);
      if (this.events.size > this.maxEvents) this.events.delete(this.events.keys().next().value as string);
    }
  }

  recentEvents(): VehicleEvent[] {
    return [...this.events.values()];
  }

  async close(): Promise<void> {}
}
