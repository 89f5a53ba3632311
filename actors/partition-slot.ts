import type { PartitionShard } from './partition-shard.js';

/**
 * The phases of one partition on this node, after Pekko Cluster Sharding's Shard/ShardRegion:
 * one phase at a time, changed only by the named transitions below.
 *
 *   acquiring ──acquired──▶ active ──handOff──▶ handing-off ──released──▶ released
 *       │  ▲                  │
 *  acquireFailed  retry       fenced (another owner wrote a newer epoch: give the partition up)
 *       ▼  │                  ▼
 *   retrying-acquire        fenced ──released──▶ released
 */
export type SlotPhase = 'acquiring' | 'retrying-acquire' | 'active' | 'handing-off' | 'fenced' | 'released';

const NEXT: Readonly<Record<SlotPhase, readonly SlotPhase[]>> = {
  acquiring: ['active', 'retrying-acquire', 'released'],
  'retrying-acquire': ['acquiring', 'released'],
  active: ['handing-off', 'fenced'],
  'handing-off': ['released'],
  fenced: ['released'],
  released: [],
};

/** Backoff of acquire retries: 200 ms, doubling, at most 10 s. */
export function acquireBackoffMs(attempt: number): number {
  return Math.min(10_000, 200 * 2 ** Math.min(Math.max(0, attempt - 1), 6));
}

export class PartitionNotHeldError extends Error {
  constructor(readonly partition: number, readonly phase: SlotPhase | 'unassigned') {
    super(`partition ${partition} is not held by this node (${phase}); its batch will be delivered again`);
    this.name = 'PartitionNotHeldError';
  }
}

/** One partition's lifecycle on this node: its phase, its shard while held, and its work queue. */
export class PartitionSlot {
  private current: SlotPhase = 'acquiring';
  private held: PartitionShard | null = null;
  /** Failed acquire attempts in a row. */
  attempts = 0;
  lastError: string | null = null;
  retryTimer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly partition: number, private readonly onTransition: (slot: PartitionSlot, from: SlotPhase) => void = () => {}) {}

  get phase(): SlotPhase {
    return this.current;
  }

  /** The shard, in the phases that have one (active, handing-off). */
  get shard(): PartitionShard | null {
    return this.held;
  }

  acquired(shard: PartitionShard): void {
    this.to('active');
    this.held = shard;
    this.attempts = 0;
    this.lastError = null;
  }

  acquireFailed(error: string): void {
    this.to('retrying-acquire');
    this.attempts++;
    this.lastError = error;
  }

  retry(): void {
    this.retryTimer = null;
    this.to('acquiring');
  }

  handOff(): void {
    this.to('handing-off');
  }

  /** Another node owns the partition now: the shard is closed and gone. */
  fenced(): void {
    this.to('fenced');
    this.held?.close();
    this.held = null;
  }

  released(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.to('released');
    this.held = null;
  }

  /**
   * Runs `work` after every earlier piece of work of this partition: its acquire, checkpoints
   * (timer, release, shutdown) and hand-off never overlap, so an older snapshot can never land
   * after a newer one.
   */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private to(next: SlotPhase): void {
    if (!NEXT[this.current].includes(next)) throw new Error(`partition ${this.partition}: no transition ${this.current} → ${next}`);
    const from = this.current;
    this.current = next;
    this.onTransition(this, from);
  }
}
