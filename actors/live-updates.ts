import type { VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { Logger } from './ports/logger.js';
import { Topics, type PartitionedLog } from './ports/partitioned-log.js';

/**
 * One record of `vehicle.live`: what changed among the vehicles of one partition of
 * telemetry.raw since the owner's last flush. Written to the same partition number of
 * vehicle.live, so a vehicle's changes stay in order however often its partition moves.
 */
export interface LiveBatch {
  /** Source partition (telemetry.raw) of every vehicle in the batch. */
  readonly p: number;
  /** Current views, one per vehicle that changed (latest wins within a flush). */
  readonly v: readonly VehicleView[];
  /** When the newest point behind each view entered the engine (ms), index-aligned with v. */
  readonly r: readonly number[];
  /** Vehicles that left the cluster (retired): [id, company]. */
  readonly g: readonly (readonly [string, string | null])[];
  readonly e: readonly VehicleEvent[];
}

interface Pending {
  readonly views: Map<string, { view: VehicleView; receivedAt: number }>;
  readonly gone: Map<string, string | null>;
  events: VehicleEvent[];
}

/**
 * The owner side of cross-node delivery: gathers every change of this node's vehicles and
 * publishes them to vehicle.live every `flushMs`, one record per partition, so that nodes that
 * do not own a vehicle can serve it to their clients within tens of milliseconds (the 1 s
 * checkpoint that writes vehicle.updates is far too slow for a live map).
 */
export class LiveOutbox {
  private pending = new Map<number, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private inFlight = false;

  constructor(
    private readonly bus: PartitionedLog,
    private readonly encode: (value: unknown) => Uint8Array,
    private readonly logger: Logger,
    private readonly flushMs: number,
  ) {}

  start(): void {
    // While a publish is stalled (a broker is slow) the next tick waits: changes keep
    // coalescing per vehicle instead of queueing one batch per tick behind it.
    this.timer ??= setInterval(() => {
      if (!this.inFlight) void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private slot(partition: number): Pending {
    let s = this.pending.get(partition);
    if (s === undefined) this.pending.set(partition, (s = { views: new Map(), gone: new Map(), events: [] }));
    return s;
  }

  changed(partition: number, view: VehicleView, receivedAt: number): void {
    const s = this.slot(partition);
    s.gone.delete(view.id);
    s.views.set(view.id, { view, receivedAt });
  }

  gone(partition: number, id: string, company: string | null): void {
    const s = this.slot(partition);
    s.views.delete(id);
    s.gone.set(id, company);
  }

  event(partition: number, e: VehicleEvent): void {
    this.slot(partition).events.push(e);
  }

  /** Publishes what is pending; the next flush waits for this one (records stay in order). */
  flush(): Promise<void> {
    if (this.pending.size === 0) return this.flushing;
    const batches = this.pending;
    this.pending = new Map();
    this.inFlight = true;
    this.flushing = this.flushing.then(async () => {
      const records = [...batches].map(([p, s]) => {
        const views = [...s.views.values()];
        const batch: LiveBatch = { p, v: views.map((x) => x.view), r: views.map((x) => x.receivedAt), g: [...s.gone], e: s.events };
        return { key: String(p), partition: p, value: this.encode(batch) };
      });
      try {
        await this.bus.publish(Topics.vehicleLive, records);
      } catch (e) {
        // Live delivery is best effort: the next change of each vehicle carries its whole view,
        // and the checkpoint's vehicle.updates and current state stay the durable record.
        this.logger.warn({ err: (e as Error).message, partitions: records.length }, 'live updates not published');
      } finally {
        this.inFlight = false;
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}

/** Reads a vehicle.live record; null when it is not one (counted by the caller). */
export function toLiveBatch(raw: unknown): LiveBatch | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const b = raw as Partial<LiveBatch>;
  if (typeof b.p !== 'number' || !Array.isArray(b.v) || !Array.isArray(b.r) || !Array.isArray(b.g) || !Array.isArray(b.e)) return null;
  return b as LiveBatch;
}
