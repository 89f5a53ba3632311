import { Packr } from 'msgpackr';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

/**
 * Snapshot bytes, shared by every snapshot store so one tier's bytes decode in the other:
 * standard MessagePack only (no records, no msgpackr extensions), undefined properties left
 * out so a snapshot round-trips to an equal object.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
  skipValues: [undefined],
} as ConstructorParameters<typeof Packr>[0] & { skipValues: unknown[] });

export function packSnapshot(s: VehicleSnapshot): Buffer {
  return packr.pack(s);
}

export function unpackSnapshot(bytes: Uint8Array): VehicleSnapshot {
  const s = packr.unpack(bytes) as VehicleSnapshot;
  const first: unknown = s.recent[0];
  if (typeof first === 'object' && first !== null) return { ...s, recent: flattenPoints(s.recent as unknown as WindowPoint[]) };
  return s;
}

/** A point of the window as snapshots before the flat window held it (one map per point). */
interface WindowPoint {
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly speed?: number | null;
}

/** Snapshots written before the flat window (a list of point maps) still restore. */
function flattenPoints(points: readonly WindowPoint[]): (number | null)[] {
  const out: (number | null)[] = [];
  for (const p of points) out.push(p.ts, p.lat, p.lon, p.speed ?? null);
  return out;
}
