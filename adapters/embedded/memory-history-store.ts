import type { HistoryStore, PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { PackedPositions } from './packed-positions.js';

export interface MemoryHistoryStoreOptions {
  /**
   * How long written positions are kept (ms), for a crashed vehicle actor to replay those since
   * its last snapshot (default 60 s). The engine keeps twice SNAPSHOT_INTERVAL_MS, at least 60 s:
   * a vehicle's snapshot is never older than one interval and a checkpoint.
   */
  readonly retainMs?: number;
  /**
   * Most positions kept (default MEMORY_HISTORY_MAX_ROWS); above it the oldest written batches
   * are forgotten first. Bounds the memory of a busy node (a position is kept packed, about 180
   * bytes: packed-positions.ts, docs/storage.md).
   */
  readonly maxRows?: number;
}

/** Default of maxRows: 1 million positions, about 180 MB. */
export const MEMORY_HISTORY_MAX_ROWS = 1_000_000;

interface WrittenBatch {
  readonly at: number;
  readonly rows: PackedPositions;
}

const DEFAULT_RETAIN_MS = 60_000;
/** Rows scanned between two turns of the event loop. */
const SCAN_SLICE = 100_000;

/**
 * The embedded default keeps no lasting history: the live state is in the actors, the events
 * reach the clients through the delivery hub, and durable history is PostgreSQL's job. It keeps
 * the positions of the last `retainMs` only, `maxRows` at most, packed (packed-positions.ts), for
 * positionsAfter; keptAfter tells a replay what it forgot.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory';
  private readonly retainMs: number;
  private readonly maxRows: number;
  private batches: WrittenBatch[] = [];
  private rows = 0;
  /** The newest ts of a forgotten position (-Infinity: none forgotten). */
  private forgottenUpTo = -Infinity;

  constructor(options: MemoryHistoryStoreOptions = {}) {
    this.retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
    this.maxRows = options.maxRows ?? MEMORY_HISTORY_MAX_ROWS;
  }

  async appendPositions(rows: readonly PositionRow[]): Promise<void> {
    const now = Date.now();
    this.forgetBefore(now - this.retainMs);
    if (rows.length === 0) return;
    if (this.retainMs <= 0 || this.maxRows <= 0) {
      for (const r of rows) if (r.point.ts > this.forgottenUpTo) this.forgottenUpTo = r.point.ts;
      return;
    }
    this.batches.push({ at: now, rows: new PackedPositions(rows) });
    this.rows += rows.length;
    // Whole batches: the oldest go first, the newest one always stays.
    let n = 0;
    while (this.rows > this.maxRows && n < this.batches.length - 1) this.drop(this.batches[n++]);
    if (n > 0) this.batches.splice(0, n);
  }

  keptAfter(): number {
    this.forgetBefore(Date.now() - this.retainMs);
    return this.forgottenUpTo;
  }

  /** Positions kept now. */
  get size(): number {
    return this.rows;
  }

  /**
   * A scan of what is kept: a crash is rare, and a per-vehicle index would cost every write. It
   * yields to the event loop every SCAN_SLICE rows (a million rows took about 0.3 s here).
   */
  async positionsAfter(vehicleId: string, afterTs: number, limit: number): Promise<TelemetryPoint[]> {
    this.forgetBefore(Date.now() - this.retainMs);
    // Each ts once, the first written kept (as PostgreSQL's key keeps it).
    const byTs = new Map<number, TelemetryPoint>();
    let scanned = 0;
    for (const batch of this.batches.slice()) {
      batch.rows.collect(vehicleId, afterTs, byTs);
      scanned += batch.rows.length;
      if (scanned >= SCAN_SLICE) {
        scanned = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const points = [...byTs.values()].sort((a, b) => a.ts - b.ts);
    return points.length > limit ? points.slice(points.length - Math.max(0, limit)) : points;
  }

  async appendEvents(_events: readonly VehicleEvent[]): Promise<void> {}

  async upsertSegments(_segments: readonly TripSegment[]): Promise<void> {}

  async close(): Promise<void> {
    this.batches = [];
    this.rows = 0;
  }

  private forgetBefore(cutoff: number): void {
    let n = 0;
    while (n < this.batches.length && this.batches[n].at < cutoff) this.drop(this.batches[n++]);
    if (n > 0) this.batches.splice(0, n);
  }

  private drop(batch: WrittenBatch): void {
    this.rows -= batch.rows.length;
    this.forgotten(batch.rows);
  }

  private forgotten(rows: PackedPositions): void {
    if (rows.maxTs > this.forgottenUpTo) this.forgottenUpTo = rows.maxTs;
  }
}
