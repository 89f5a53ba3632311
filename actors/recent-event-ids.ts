/**
 * The ids of the last `capacity` events a node delivered, to drop a repeat. Event ids are
 * deterministic (`vehicleId:type:ts`), so a repeat is the same event again: a vehicle's points
 * replayed after a hand-off or a crash (the new owner restores the last checkpoint and applies
 * what the previous owner had already applied and published) emit the same events twice.
 * Bounded: the oldest id is forgotten first.
 */
export class RecentEventIds {
  private readonly ids = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }

  /** True the first time an id is seen (within the last `capacity` ids); remembers it. */
  firstTime(id: string): boolean {
    if (this.ids.has(id)) return false;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.ids.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.ids.add(id);
    return true;
  }
}
