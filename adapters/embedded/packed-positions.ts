import type { PositionRow } from '../../actors/ports/history-store.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { WindowPoints } from '../../actors/window-points.js';

/**
 * One checkpoint's written positions, kept compact for a crashed actor's replay: the points
 * packed as a reorder window keeps them (actors/window-points.ts: their numbers in one array
 * of doubles, device ids and attributes beside), and each one's vehicle id. Kept as the
 * checkpoint's own row objects, a million positions were ~240 MB of small objects that lived
 * for a minute: promoted out of the young generation and marked by every full collection
 * meanwhile (`npm run bench:apply` spent ~15 % more CPU per point with them kept than with
 * none). Packed, the point objects die young.
 */
export class PackedPositions {
  /** The newest point time among them (-Infinity when empty). */
  readonly maxTs: number;
  private readonly points = new WindowPoints();
  private readonly vehicleIds: string[];

  constructor(rows: readonly PositionRow[]) {
    this.vehicleIds = new Array<string>(rows.length);
    let maxTs = -Infinity;
    for (let i = 0; i < rows.length; i++) {
      const { vehicleId, point } = rows[i];
      this.points.push(point);
      this.vehicleIds[i] = vehicleId;
      if (point.ts > maxTs) maxTs = point.ts;
    }
    this.maxTs = maxTs;
  }

  get length(): number {
    return this.points.length;
  }

  /** Adds the vehicle's points newer than `afterTs` to `byTs`, a time not there yet only (the first written wins). */
  collect(vehicleId: string, afterTs: number, byTs: Map<number, TelemetryPoint>): void {
    for (let i = 0; i < this.points.length; i++) {
      if (this.vehicleIds[i] !== vehicleId) continue;
      const ts = this.points.tsAt(i);
      if (ts > afterTs && !byTs.has(ts)) byTs.set(ts, this.points.at(i));
    }
  }
}
