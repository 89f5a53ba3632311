import type { VehicleDelta } from './domain/vehicle-state.js';
import type { Update } from './delivery-hub.js';
import { higher, priorityOf, type Priority } from './delivery-priority.js';
import type { FrameEncoder } from './ports/frame-encoder.js';
import { entryValue, formOf, sharedDelta, sharedEntryBytes } from './shared-entries.js';
import type { PayloadFields } from './subscription.js';

/** One vehicle's pending change for one client. */
export interface PendingEntry {
  readonly id: string;
  /** The one update this entry still is (not merged with another): its encoded bytes are shared. */
  single: Update | null;
  /** The client has not seen the vehicle: the entry is its whole view (of the latest update). */
  readonly entering: boolean;
  /** Changed fields merged from several updates: this client's own, encoded for it alone. */
  merged: VehicleDelta | null;
  receivedAt: number;
  priority: Priority;
}

/**
 * A client's pending changes, coalesced per vehicle (latest wins, fields merged), each with
 * the priority that decides when it goes out. An entry made of one update keeps that update,
 * so its bytes are encoded once for every client; merging makes it this client's own.
 */
export class PendingBatch {
  private readonly entries = new Map<string, PendingEntry>();
  private readonly counts: Record<Priority, number> = { urgent: 0, moving: 0, stopped: 0 };

  get size(): number {
    return this.entries.size;
  }

  count(p: Priority): number {
    return this.counts[p];
  }

  /** Every pending entry (e.g. the oldest `receivedAt`: what a resume watermark needs). */
  values(): IterableIterator<PendingEntry> {
    return this.entries.values();
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  delete(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.entries.delete(id);
    this.counts[e.priority]--;
  }

  clear(): void {
    this.entries.clear();
    this.counts.urgent = this.counts.moving = this.counts.stopped = 0;
  }

  /** A vehicle entering the client's scope: its whole view goes out (the latest, if it changes again first). */
  enter(u: Update): void {
    const before = this.entries.get(u.id);
    const priority = before === undefined ? priorityOf(u, true) : higher(before.priority, priorityOf(u, true));
    this.put({ id: u.id, single: u, entering: true, merged: null, receivedAt: before?.receivedAt ?? u.receivedAt, priority }, before);
  }

  /** A change of a vehicle the client already shows. */
  change(u: Update, fields: PayloadFields): void {
    const before = this.entries.get(u.id);
    if (before !== undefined && before.entering) return this.enter(u);
    const delta = sharedDelta(u, fields);
    if (delta === null) return;
    const priority = priorityOf(u, false);
    if (before === undefined) {
      this.put({ id: u.id, single: u, entering: false, merged: null, receivedAt: u.receivedAt, priority }, undefined);
      return;
    }
    const next = higher(before.priority, priority) === 'urgent' ? 'urgent' : priority;
    if (before.single !== null) {
      const previous = sharedDelta(before.single, fields) as VehicleDelta;
      // The newer delta sets every field the older one did (a moving vehicle's next position):
      // merged, they are the newer one, whose bytes stay shared with every other client.
      if (covers(delta, previous)) {
        before.single = u;
        this.reprioritise(before, next);
        return;
      }
      before.merged = { ...previous };
      before.single = null;
    }
    Object.assign(before.merged as VehicleDelta, delta);
    this.reprioritise(before, next);
  }

  /**
   * Removes and returns the entries of the given classes (urgent ones always), except those
   * `ready` holds back (a per-vehicle rate limit).
   */
  take(classes: ReadonlySet<Priority>, ready?: (id: string) => boolean): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.priority !== 'urgent' && (!classes.has(e.priority) || (ready !== undefined && !ready(e.id)))) continue;
      out.push(e);
    }
    for (const e of out) this.delete(e.id);
    return out;
  }

  /** Removes and returns the urgent entries only. */
  takeUrgent(): PendingEntry[] {
    return this.counts.urgent === 0 ? [] : this.take(NONE);
  }

  private put(e: PendingEntry, before: PendingEntry | undefined): void {
    if (before !== undefined) this.counts[before.priority]--;
    this.entries.set(e.id, e);
    this.counts[e.priority]++;
  }

  private reprioritise(e: PendingEntry, p: Priority): void {
    this.counts[e.priority]--;
    e.priority = p;
    this.counts[p]++;
  }
}

const NONE: ReadonlySet<Priority> = new Set();

/** Whether `newer` has every field of `older`. */
function covers(newer: VehicleDelta, older: VehicleDelta): boolean {
  for (const k in older) if (!Object.hasOwn(newer, k)) return false;
  return true;
}

/** The value of an entry as the client receives it. */
export function pendingValue(e: PendingEntry, fields: PayloadFields): unknown {
  return e.single !== null ? entryValue(e.single, formOf(e.entering, fields)) : e.merged;
}

/** An entry's bytes: shared with every client that receives the same update, or encoded for this client when merged. */
export function pendingBytes(e: PendingEntry, fields: PayloadFields, encoder: FrameEncoder): Uint8Array {
  return e.single !== null ? sharedEntryBytes(e.single, formOf(e.entering, fields), encoder) : encoder.entry(e.merged);
}
