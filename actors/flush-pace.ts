/**
 * How long moving vehicles' deltas coalesce per client before a `d` frame goes out, stretched
 * under load. Writing a frame costs about the same whether it carries one entry or fifty (a
 * syscall per socket, a message and a timer per subscriber actor), and a client of a busy node
 * gets a few updates per vehicle per second: at WS_FLUSH_MS most frames carry one or two entries
 * and the node spends its event loop on per-frame costs. When the loop is busy the interval grows
 * (fewer, larger frames, the same entries), up to WS_MAX_FLUSH_MS; when it is idle again it comes
 * back down to WS_FLUSH_MS. Events and alarms are never held by it.
 */
export interface FlushPace {
  /** The current flush interval (ms). */
  readonly ms: number;
}

/** A fixed interval: WS_MAX_FLUSH_MS equal to WS_FLUSH_MS, and the tests. */
export function fixedPace(ms: number): FlushPace {
  return { ms };
}

/** Share of the event loop busy above which the interval grows, and below which it shrinks. */
const BUSY = 0.85;
const IDLE = 0.6;
const STEP = 1.5;

export class LoadAdaptivePace implements FlushPace {
  private current: number;

  /** `busy()`: the share (0–1) of the event loop spent running since its last call. */
  constructor(readonly minMs: number, readonly maxMs: number, private readonly busy: () => number) {
    this.current = minMs;
  }

  get ms(): number {
    return this.current;
  }

  /** Called every sample period (engine: every 250 ms): one step up or down. */
  sample(): void {
    const b = this.busy();
    if (b > BUSY) this.current = Math.min(this.maxMs, Math.round(this.current * STEP));
    else if (b < IDLE) this.current = Math.max(this.minMs, Math.round(this.current / STEP));
  }
}
