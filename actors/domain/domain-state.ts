import type { TripSegment } from './trip-segment.js';
import { segmentId } from './trip-segment.js';

/** A trip or stop while the actor holds it (open, or the last closed one a late point may repair). */
export interface SegmentState {
  kind: 'trip' | 'stop';
  startTs: number;
  endTs: number;
  startLat: number;
  startLon: number;
  endLat: number;
  endLon: number;
  distanceKm: number;
  maxSpeed: number;
  idleMs: number;
  closed: boolean;
  /** ts of the point that opened it (absent in older snapshots: settled). */
  openedTs?: number;
}

export type DeviceStatus = 'unknown' | 'online' | 'offline';

/**
 * What a vehicle actor derives beyond its view: motion with hysteresis, the open and the last
 * closed segment, idle, overspeed and fuel episodes, status, driver and alarm. Plain numbers
 * and strings, bounded (the fuel window is at most 32 readings), so a snapshot carries it as is.
 */
export interface DomainState {
  moving: boolean;
  /** Stopped: where the stop began. Moving: where the vehicle has stayed within tripMinDistanceM since (the stop candidate). */
  anchorLat: number;
  anchorLon: number;
  anchorTs: number;
  /** Stopped: the last point that stood still (a trip starts there) and the distance crept since (anchorDistKm). */
  stillTs: number;
  stillLat: number;
  stillLon: number;
  /** Moving: the trip's distance when the candidate began (a trip ends there) and the idle time since. */
  anchorDistKm: number;
  anchorIdleMs: number;
  segment: SegmentState | null;
  previous: SegmentState | null;
  /** Since when the ignition has been on while stopped (0: not); idling once idle_start fired. */
  idleSince: number;
  idling: boolean;
  /** Overspeed: since when over (candidate or episode), since when back under, the episode's top speed. */
  overSince: number;
  underSince: number;
  overspeeding: boolean;
  overMax: number;
  fuelReadings: number[];
  /** Smoothed level the next refuel or drain is measured from (NaN: none yet) and the last smoothed level. */
  fuelBaseline: number;
  fuelLast: number;
  status: DeviceStatus;
  /** Wall-clock ms the last point was received (status runs on receipt, not device, time). */
  lastReceivedAt: number;
  driver: string | null;
  alarm: string | null;
}

export function newDomainState(): DomainState {
  return {
    moving: false, anchorLat: NaN, anchorLon: NaN, anchorTs: 0, stillTs: 0, stillLat: NaN, stillLon: NaN, anchorDistKm: 0, anchorIdleMs: 0,
    segment: null, previous: null, idleSince: 0, idling: false,
    overSince: 0, underSince: 0, overspeeding: false, overMax: 0,
    fuelReadings: [], fuelBaseline: NaN, fuelLast: NaN,
    status: 'unknown', lastReceivedAt: 0, driver: null, alarm: null,
  };
}

/** A deep copy (for snapshots: the actor goes on mutating its own). */
export function copyDomainState(d: DomainState): DomainState {
  return { ...d, segment: d.segment && { ...d.segment }, previous: d.previous && { ...d.previous }, fuelReadings: d.fuelReadings.slice() };
}

/**
 * Copies `from` into `target` in place, reusing target's own segment objects and fuel array
 * (the reorder window's checkpoints: a copy per window of point time, without garbage).
 */
export function copyDomainInto(t: DomainState, f: DomainState): void {
  // Field by field: Object.assign on this shape is several times slower, and this runs per window of points.
  t.moving = f.moving;
  t.anchorLat = f.anchorLat;
  t.anchorLon = f.anchorLon;
  t.anchorTs = f.anchorTs;
  t.stillTs = f.stillTs;
  t.stillLat = f.stillLat;
  t.stillLon = f.stillLon;
  t.anchorDistKm = f.anchorDistKm;
  t.anchorIdleMs = f.anchorIdleMs;
  t.segment = f.segment === null ? null : copySegmentInto(t.segment, f.segment);
  t.previous = f.previous === null ? null : copySegmentInto(t.previous, f.previous);
  t.idleSince = f.idleSince;
  t.idling = f.idling;
  t.overSince = f.overSince;
  t.underSince = f.underSince;
  t.overspeeding = f.overspeeding;
  t.overMax = f.overMax;
  const fuel = t.fuelReadings;
  fuel.length = f.fuelReadings.length;
  for (let i = 0; i < fuel.length; i++) fuel[i] = f.fuelReadings[i];
  t.fuelBaseline = f.fuelBaseline;
  t.fuelLast = f.fuelLast;
  t.status = f.status;
  t.lastReceivedAt = f.lastReceivedAt;
  t.driver = f.driver;
  t.alarm = f.alarm;
}

function copySegmentInto(t: SegmentState | null, f: SegmentState): SegmentState {
  if (t === null) return { ...f };
  t.kind = f.kind;
  t.startTs = f.startTs;
  t.endTs = f.endTs;
  t.startLat = f.startLat;
  t.startLon = f.startLon;
  t.endLat = f.endLat;
  t.endLon = f.endLon;
  t.distanceKm = f.distanceKm;
  t.maxSpeed = f.maxSpeed;
  t.idleMs = f.idleMs;
  t.closed = f.closed;
  t.openedTs = f.openedTs;
  return t;
}

/**
 * The domain state of a snapshot; snapshots written before it existed restore as a vehicle
 * that is stopped where its view is (or moving, as the view says), status unknown.
 */
export function domainFromSnapshot(raw: Partial<DomainState> | undefined, view: { lat: number; lon: number; ts: number; moving: boolean; overspeeding?: boolean }): DomainState {
  const base = newDomainState();
  if (raw === undefined || raw === null) {
    base.moving = view.moving;
    base.anchorLat = view.lat;
    base.anchorLon = view.lon;
    base.anchorTs = view.ts;
    base.stillLat = view.lat;
    base.stillLon = view.lon;
    base.stillTs = view.ts;
    return base;
  }
  const d = { ...base, ...raw } as DomainState;
  // MessagePack has no NaN-free guarantee across encoders: a missing number restores as NaN.
  d.fuelBaseline = typeof raw.fuelBaseline === 'number' ? raw.fuelBaseline : NaN;
  d.fuelLast = typeof raw.fuelLast === 'number' ? raw.fuelLast : NaN;
  d.anchorLat = typeof raw.anchorLat === 'number' ? raw.anchorLat : view.lat;
  d.anchorLon = typeof raw.anchorLon === 'number' ? raw.anchorLon : view.lon;
  d.stillLat = typeof raw.stillLat === 'number' ? raw.stillLat : d.anchorLat;
  d.stillLon = typeof raw.stillLon === 'number' ? raw.stillLon : d.anchorLon;
  d.fuelReadings = Array.isArray(raw.fuelReadings) ? raw.fuelReadings.slice(-32) : [];
  d.segment = raw.segment ? { ...raw.segment } : null;
  d.previous = raw.previous ? { ...raw.previous } : null;
  return copyDomainState(d);
}

export function toTripSegment(s: SegmentState, vehicleId: string, company: string | null, deviceId: string): TripSegment {
  const hours = (s.endTs - s.startTs) / 3_600_000;
  return {
    id: segmentId(vehicleId, s.kind, s.startTs), kind: s.kind, vehicleId, company, deviceId,
    startTs: s.startTs, endTs: s.endTs, startLat: s.startLat, startLon: s.startLon, endLat: s.endLat, endLon: s.endLon,
    distanceKm: Math.round(s.distanceKm * 1000) / 1000,
    maxSpeed: Math.round(s.maxSpeed * 10) / 10,
    avgSpeed: s.kind === 'trip' && hours > 0 ? Math.round((s.distanceKm / hours) * 10) / 10 : 0,
    idleMs: s.idleMs, closed: s.closed,
  };
}
