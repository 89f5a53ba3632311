import type { VehicleEvent } from './protocol.js';

/**
 * The vehicle events of the stream, each once: the server may repeat an event across a
 * reconnect (docs/protocol.md, "Delivery semantics"), so ids seen lately are remembered and a
 * repeat is dropped. Consumers listen, or iterate with `for await`; an iterator that falls
 * behind keeps at most `bufferLimit` events and drops the oldest (counted in `dropped`).
 */
export class EventStream {
  private readonly recent = new Set<string>();
  private readonly listeners = new Set<(e: VehicleEvent) => void>();
  private readonly iterators = new Set<EventIterator>();
  private closed = false;

  constructor(private readonly rememberIds = 10_000, private readonly bufferLimit = 10_000) {}

  /** Publishes the events not seen before; returns how many were new. */
  push(events: readonly VehicleEvent[]): number {
    let fresh = 0;
    for (const e of events) {
      if (!e || typeof e.id !== 'string' || this.recent.has(e.id)) continue;
      this.remember(e.id);
      fresh++;
      for (const l of this.listeners) l(e);
      for (const it of this.iterators) it.offer(e);
    }
    return fresh;
  }

  on(listener: (e: VehicleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An async iterator of the events from now on; it ends when the client closes. */
  iterate(): AsyncIterableIterator<VehicleEvent> {
    const it = new EventIterator(this.bufferLimit, () => this.iterators.delete(it));
    if (this.closed) it.end();
    else this.iterators.add(it);
    return it;
  }

  close(): void {
    this.closed = true;
    for (const it of this.iterators) it.end();
    this.iterators.clear();
  }

  private remember(id: string): void {
    this.recent.add(id);
    if (this.recent.size > this.rememberIds) {
      // Sets iterate in insertion order: the first is the oldest.
      const oldest = this.recent.values().next().value as string;
      this.recent.delete(oldest);
    }
  }
}

class EventIterator implements AsyncIterableIterator<VehicleEvent> {
  private readonly queue: VehicleEvent[] = [];
  private waiting: ((r: IteratorResult<VehicleEvent>) => void) | null = null;
  private done = false;
  dropped = 0;

  constructor(private readonly limit: number, private readonly detach: () => void) {}

  offer(e: VehicleEvent): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: e, done: false });
      return;
    }
    this.queue.push(e);
    if (this.queue.length > this.limit) {
      this.queue.shift();
      this.dropped++;
    }
  }

  end(): void {
    this.done = true;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<VehicleEvent>> {
    const e = this.queue.shift();
    if (e !== undefined) return Promise.resolve({ value: e, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<VehicleEvent>> {
    this.detach();
    this.end();
    this.queue.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<VehicleEvent> {
    return this;
  }
}
