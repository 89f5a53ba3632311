import type { Update } from './delivery-hub.js';
import type { VehicleEvent } from './domain/vehicle-event.js';

/**
 * What a node's delivery hub routed lately, for resumes (actors/resume-plan.ts): when each
 * vehicle last changed (the engine's receive time of its update, the same on every node), and a
 * bounded ring of the events delivered, with the time they arrived here. Filled as the hub
 * drains, so an event is either in the ring or delivered live to a target attached after it.
 */
export class RecentChanges {
  private readonly changed = new Map<string, number>();
  private readonly ring: ({ at: number; e: VehicleEvent } | undefined)[];
  private next = 0;
  /** The ring holds every event delivered since this time (ms): after the last one it dropped. */
  private completeEventsSince = 0;
  readonly startedAt: number;

  constructor(private readonly capacity = 100_000, now = Date.now()) {
    this.ring = new Array<{ at: number; e: VehicleEvent } | undefined>(capacity);
    this.startedAt = now;
  }

  updated(u: Update): void {
    if (u.view === null) this.changed.delete(u.id);
    else this.changed.set(u.id, u.receivedAt);
  }

  evented(e: VehicleEvent, now = Date.now()): void {
    const old = this.ring[this.next];
    if (old !== undefined) this.completeEventsSince = old.at + 1;
    this.ring[this.next] = { at: now, e };
    this.next = (this.next + 1) % this.capacity;
  }

  /** When the vehicle last changed (received time, ms); undefined when it did not since this node started. */
  changedAt(id: string): number | undefined {
    return this.changed.get(id);
  }

  /** Whether every event delivered since `since` is still in the ring (those before the node started never were). */
  eventsCompleteSince(since: number): boolean {
    return since >= this.completeEventsSince;
  }

  /** The events delivered here since `since` (ms), oldest first. A binary search: a storm of resumes must not scan the ring each. */
  eventsSince(since: number): VehicleEvent[] {
    const filled = this.ring[this.next] === undefined ? this.next : this.capacity;
    const start = filled === this.capacity ? this.next : 0;
    const at = (k: number) => (this.ring[(start + k) % this.capacity] as { at: number }).at;
    let lo = 0;
    let hi = filled;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at(mid) < since) lo = mid + 1;
      else hi = mid;
    }
    const out: VehicleEvent[] = [];
    for (let k = lo; k < filled; k++) out.push((this.ring[(start + k) % this.capacity] as { e: VehicleEvent }).e);
    return out;
  }
}
