/**
 * When each online vehicle of a shard is due for its offline check, in one-second buckets:
 * one timer per shard instead of one per actor (a million timers would be a million heap
 * entries re-armed on every point). A vehicle is in at most one bucket; a receipt books its
 * check but an earlier booking stands (one lookup), and that check reschedules a vehicle that
 * was heard from since.
 */
export class LivenessWheel {
  private readonly buckets = new Map<number, string[]>();
  private readonly scheduled = new Map<string, number>();
  private cursor = -1;

  constructor(private readonly resolutionMs = 1000) {}

  /** Checks `vehicleId` at `dueAt` (ms) or soon after; an earlier booking stands. */
  schedule(vehicleId: string, dueAt: number): void {
    // A time already walked past (a restored vehicle overdue) is the next slot walked, or never.
    const slot = Math.max(Math.ceil(dueAt / this.resolutionMs), this.cursor + 1);
    const booked = this.scheduled.get(vehicleId);
    if (booked !== undefined && booked <= slot) return;
    this.scheduled.set(vehicleId, slot);
    let bucket = this.buckets.get(slot);
    if (bucket === undefined) this.buckets.set(slot, (bucket = []));
    bucket.push(vehicleId);
  }

  /** The vehicles due at `now`; each leaves the wheel (the check books it again if need be). */
  due(now: number): string[] {
    const upTo = Math.floor(now / this.resolutionMs);
    const out: string[] = [];
    if (this.buckets.size === 0) {
      this.cursor = upTo;
      return out;
    }
    // Walk the slots since the last call; after a long pause, the booked slots instead.
    const slots = this.cursor < 0 || upTo - this.cursor > this.buckets.size ? [...this.buckets.keys()].filter((s) => s <= upTo) : range(this.cursor + 1, upTo);
    for (const slot of slots) {
      const bucket = this.buckets.get(slot);
      if (bucket === undefined) continue;
      this.buckets.delete(slot);
      for (const id of bucket) {
        if (this.scheduled.get(id) !== slot) continue;
        this.scheduled.delete(id);
        out.push(id);
      }
    }
    this.cursor = upTo;
    return out;
  }

  forget(vehicleId: string): void {
    this.scheduled.delete(vehicleId);
  }

  get size(): number {
    return this.scheduled.size;
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
