import { Packr } from 'msgpackr';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import type { DomainState, SegmentState } from '../../actors/domain/domain-state.js';

/**
 * Snapshot bytes, shared by every snapshot store so one tier's bytes decode in the other:
 * standard MessagePack only (no records, no msgpackr extensions), undefined properties left
 * out so a snapshot round-trips to an equal object.
 *
 * Two layouts, told apart by their first byte (a map or an array), both read:
 * - version 1 (written until issue #11): the snapshot as a map, the domain state and its
 *   segments as maps;
 * - version 2 (written now): a tuple [2, vehicleId, deviceId, partition, view, recent,
 *   accepted, overspeeding, domain, geofencesPending, heldEvents] with the domain state and its
 *   segments as tuples in a fixed field order (DOMAIN_FIELDS, segmentTuple); absent fields
 *   are nil. A restore decodes a million snapshots: their ~45 map keys were most of the
 *   decoding time and a fifth of the bytes. The view stays a map (its fields are optional and
 *   clients see them by name).
 * A node of an older version reads only version 1. During a rolling upgrade from such a version
 * the new nodes write version 1 (`SNAPSHOT_FORMAT=1`) until every node reads version 2, so a
 * partition handed back to an old node still restores there; see docs/deployment.md.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
  skipValues: [undefined],
} as ConstructorParameters<typeof Packr>[0] & { skipValues: unknown[] });

const VERSION = 2;

/** The layout snapshots are written in: 2, or 1 while older nodes may still read them. */
export type SnapshotFormat = 1 | 2;

const DOMAIN_FIELDS = [
  'moving', 'anchorLat', 'anchorLon', 'anchorTs', 'stillTs', 'stillLat', 'stillLon', 'anchorDistKm', 'anchorIdleMs', 'segment', 'previous',
  'idleSince', 'idling', 'overSince', 'underSince', 'overspeeding', 'overMax', 'fuelReadings', 'fuelBaseline', 'fuelLast', 'status',
  'lastReceivedAt', 'driver', 'alarm',
] as const satisfies readonly (keyof DomainState)[];

type Tuple = unknown[];

export function packSnapshot(s: VehicleSnapshot, format: SnapshotFormat = VERSION): Buffer {
  // Version 1 is the snapshot object itself, as nodes before version 2 wrote and read it.
  if (format === 1) return packr.pack(s);
  return packr.pack([
    VERSION, s.vehicleId, s.deviceId, s.partition, s.view, s.recent, s.accepted,
    s.overspeeding, s.domain === undefined ? undefined : domainTuple(s.domain), s.geofencesPending, s.heldEvents,
  ]);
}

export function unpackSnapshot(bytes: Uint8Array): VehicleSnapshot {
  const raw = packr.unpack(bytes) as VehicleSnapshot | Tuple;
  if (Array.isArray(raw)) return fromTuple(raw);
  const first: unknown = raw.recent[0];
  if (typeof first === 'object' && first !== null) return { ...raw, recent: flattenPoints(raw.recent as unknown as WindowPoint[]) };
  return raw;
}

/**
 * The domain state as a tuple; one whose fields are not all there (a state read from an older
 * snapshot and not yet rewritten keeps what it had) stays a map, which the reader takes as is.
 */
function domainTuple(d: Partial<DomainState>): Tuple | Partial<DomainState> {
  const out = new Array<unknown>(DOMAIN_FIELDS.length);
  for (let i = 0; i < DOMAIN_FIELDS.length; i++) {
    const v = d[DOMAIN_FIELDS[i]];
    if (v === undefined) return d;
    out[i] = v;
  }
  out[9] = d.segment ? segmentTuple(d.segment) : null;
  out[10] = d.previous ? segmentTuple(d.previous) : null;
  return out;
}

/** kind, startTs, endTs, startLat, startLon, endLat, endLon, distanceKm, maxSpeed, idleMs, closed, openedTs. */
function segmentTuple(s: SegmentState): Tuple {
  return [s.kind, s.startTs, s.endTs, s.startLat, s.startLon, s.endLat, s.endLon, s.distanceKm, s.maxSpeed, s.idleMs, s.closed, s.openedTs];
}

function fromTuple(t: Tuple): VehicleSnapshot {
  if (t[0] !== VERSION) throw new Error(`snapshot version ${String(t[0])} is not known to this node`);
  const out: { -readonly [K in keyof VehicleSnapshot]: VehicleSnapshot[K] } = {
    vehicleId: t[1] as string, deviceId: t[2] as string, partition: t[3] as number, view: t[4] as VehicleSnapshot['view'],
    recent: t[5] as VehicleSnapshot['recent'], accepted: t[6] as number,
  };
  if (t[7] !== null && t[7] !== undefined) out.overspeeding = t[7] as boolean;
  if (t[8] !== null && t[8] !== undefined) out.domain = Array.isArray(t[8]) ? domainFrom(t[8]) : (t[8] as Partial<DomainState>);
  if (t[9] !== null && t[9] !== undefined) out.geofencesPending = t[9] as VehicleSnapshot['geofencesPending'];
  if (t[10] !== null && t[10] !== undefined) out.heldEvents = t[10] as VehicleSnapshot['heldEvents'];
  return out;
}

function domainFrom(t: Tuple): DomainState {
  return {
    moving: t[0] as boolean, anchorLat: t[1] as number, anchorLon: t[2] as number, anchorTs: t[3] as number, stillTs: t[4] as number,
    stillLat: t[5] as number, stillLon: t[6] as number, anchorDistKm: t[7] as number, anchorIdleMs: t[8] as number,
    segment: segmentFrom(t[9]), previous: segmentFrom(t[10]),
    idleSince: t[11] as number, idling: t[12] as boolean, overSince: t[13] as number, underSince: t[14] as number,
    overspeeding: t[15] as boolean, overMax: t[16] as number, fuelReadings: t[17] as number[], fuelBaseline: t[18] as number,
    fuelLast: t[19] as number, status: t[20] as DomainState['status'], lastReceivedAt: t[21] as number,
    driver: t[22] as string | null, alarm: t[23] as string | null,
  };
}

function segmentFrom(v: unknown): SegmentState | null {
  if (!Array.isArray(v)) return null;
  const s: SegmentState = {
    kind: v[0] as SegmentState['kind'], startTs: v[1] as number, endTs: v[2] as number, startLat: v[3] as number, startLon: v[4] as number,
    endLat: v[5] as number, endLon: v[6] as number, distanceKm: v[7] as number, maxSpeed: v[8] as number, idleMs: v[9] as number,
    closed: v[10] as boolean,
  };
  if (v[11] !== null && v[11] !== undefined) s.openedTs = v[11] as number;
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
