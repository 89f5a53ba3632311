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
 * The domain state of a snapshot; snapshots written before it existed restore as a vehicle
 * that is stopped where its view is (or moving, as the view says), status unknown.
 *
 * Built as one literal of every field (not spreads of the stored object): a restore makes a
 * million of these, and a literal is one object of a fixed shape, made without the garbage and
 * the out-of-object property store that merged spreads of a decoded map leave behind.
 */
export function domainFromSnapshot(raw: Partial<DomainState> | undefined, view: { lat: number; lon: number; ts: number; moving: boolean; overspeeding?: boolean }): DomainState {
  if (raw === undefined || raw === null) {
    const base = newDomainState();
    base.moving = view.moving;
    base.anchorLat = view.lat;
    base.anchorLon = view.lon;
    base.anchorTs = view.ts;
    base.stillLat = view.lat;
    base.stillLon = view.lon;
    base.stillTs = view.ts;
    return base;
  }
  // MessagePack has no NaN-free guarantee across encoders: a missing number restores as NaN.
  const anchorLat = typeof raw.anchorLat === 'number' ? raw.anchorLat : view.lat;
  const anchorLon = typeof raw.anchorLon === 'number' ? raw.anchorLon : view.lon;
  return {
    moving: stored(raw.moving, false),
    anchorLat,
    anchorLon,
    anchorTs: stored(raw.anchorTs, 0),
    stillTs: stored(raw.stillTs, 0),
    stillLat: typeof raw.stillLat === 'number' ? raw.stillLat : anchorLat,
    stillLon: typeof raw.stillLon === 'number' ? raw.stillLon : anchorLon,
    anchorDistKm: stored(raw.anchorDistKm, 0),
    anchorIdleMs: stored(raw.anchorIdleMs, 0),
    segment: raw.segment ? segmentCopy(raw.segment) : null,
    previous: raw.previous ? segmentCopy(raw.previous) : null,
    idleSince: stored(raw.idleSince, 0),
    idling: stored(raw.idling, false),
    overSince: stored(raw.overSince, 0),
    underSince: stored(raw.underSince, 0),
    overspeeding: stored(raw.overspeeding, false),
    overMax: stored(raw.overMax, 0),
    fuelReadings: Array.isArray(raw.fuelReadings) ? doubles(raw.fuelReadings, 32) : [],
    fuelBaseline: typeof raw.fuelBaseline === 'number' ? raw.fuelBaseline : NaN,
    fuelLast: typeof raw.fuelLast === 'number' ? raw.fuelLast : NaN,
    status: sharedStatus(raw.status) ?? 'unknown',
    lastReceivedAt: stored(raw.lastReceivedAt, 0),
    driver: stored(raw.driver, null),
    alarm: stored(raw.alarm, null),
  };
}

/** A stored field as it was (null included), or the default when the snapshot has none. */
function stored<T>(value: T | undefined, fallback: T): T {
  return value !== undefined ? value : fallback;
}

/** The status as the shared literal (each snapshot decodes its own copy of the string); undefined: none known. */
export function sharedStatus(status: unknown): DeviceStatus | undefined {
  return status === 'online' ? 'online' : status === 'offline' ? 'offline' : status === 'unknown' ? 'unknown' : undefined;
}

/** The last `max` stored numbers as an array of doubles (a decoded array holds each one boxed). */
function doubles(from: readonly number[], max: number): number[] {
  const first = Math.max(0, from.length - max);
  const out = new Array<number>(from.length - first);
  for (let i = first; i < from.length; i++) out[i - first] = Number(from[i]);
  return out;
}

/**
 * A stored segment as the live one: the kind a shared string, and one literal either way
 * (openedTs is absent in older snapshots, and absent must stay absent), so no property is
 * added after it.
 */
function segmentCopy(f: SegmentState): SegmentState {
  const kind = f.kind === 'trip' ? 'trip' : f.kind === 'stop' ? 'stop' : f.kind;
  return f.openedTs === undefined
    ? {
      kind, startTs: f.startTs, endTs: f.endTs, startLat: f.startLat, startLon: f.startLon, endLat: f.endLat, endLon: f.endLon,
      distanceKm: f.distanceKm, maxSpeed: f.maxSpeed, idleMs: f.idleMs, closed: f.closed,
    }
    : {
      kind, startTs: f.startTs, endTs: f.endTs, startLat: f.startLat, startLon: f.startLon, endLat: f.endLat, endLon: f.endLon,
      distanceKm: f.distanceKm, maxSpeed: f.maxSpeed, idleMs: f.idleMs, closed: f.closed, openedTs: f.openedTs,
    };
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

/**
 * A copy of a DomainState kept by the reorder window (one per window of point time, per
 * vehicle): its numbers and flags in one array of doubles, its strings beside it. The same
 * copy as objects held each number boxed on the heap (a DomainState and its two segments
 * are some 40 of them) and cost a resident vehicle about 800 bytes per copy.
 */
export interface PackedDomain {
  /** Exactly as long as needed: a packed array made longer by assignment grows half again, a spare slot for nothing. */
  nums: number[];
  status: DeviceStatus;
  driver: string | null;
  alarm: string | null;
  segmentKind: SegmentState['kind'];
  previousKind: SegmentState['kind'];
}

/** Doubles before the segments: moving … lastReceivedAt. */
const HEAD = 17;
/** Doubles per segment: present, startTs … closed, openedTs (NaN: absent). */
const SEGMENT = 12;
const FUEL_AT = HEAD + 2 * SEGMENT;

export function newPackedDomain(): PackedDomain {
  // Doubles from the start, so the array stays one unboxed block.
  return { nums: [0.5], status: 'unknown', driver: null, alarm: null, segmentKind: 'stop', previousKind: 'stop' };
}

/** Copies `d` into `into` (reused: a window's checkpoints are recycled, not garbage). */
export function packDomainInto(into: PackedDomain, d: DomainState): void {
  const length = FUEL_AT + 1 + d.fuelReadings.length;
  if (into.nums.length !== length) into.nums = new Array<number>(length).fill(0.5);
  const n = into.nums;
  n[0] = d.moving ? 1 : 0;
  n[1] = d.anchorLat;
  n[2] = d.anchorLon;
  n[3] = d.anchorTs;
  n[4] = d.stillTs;
  n[5] = d.stillLat;
  n[6] = d.stillLon;
  n[7] = d.anchorDistKm;
  n[8] = d.anchorIdleMs;
  n[9] = d.idleSince;
  n[10] = d.idling ? 1 : 0;
  n[11] = d.overSince;
  n[12] = d.underSince;
  n[13] = d.overspeeding ? 1 : 0;
  n[14] = d.overMax;
  n[15] = d.fuelBaseline;
  n[16] = d.fuelLast;
  // lastReceivedAt and status run on receipt, not on points: a restore keeps the live ones.
  packSegment(n, HEAD, d.segment);
  packSegment(n, HEAD + SEGMENT, d.previous);
  n[FUEL_AT] = d.fuelReadings.length;
  for (let i = 0; i < d.fuelReadings.length; i++) n[FUEL_AT + 1 + i] = d.fuelReadings[i];
  into.status = d.status;
  into.driver = d.driver;
  into.alarm = d.alarm;
  if (d.segment !== null) into.segmentKind = d.segment.kind;
  if (d.previous !== null) into.previousKind = d.previous.kind;
}

function packSegment(n: number[], at: number, s: SegmentState | null): void {
  if (s === null) {
    n[at] = 0;
    for (let i = 1; i < SEGMENT; i++) n[at + i] = 0;
    return;
  }
  n[at] = 1;
  n[at + 1] = s.startTs;
  n[at + 2] = s.endTs;
  n[at + 3] = s.startLat;
  n[at + 4] = s.startLon;
  n[at + 5] = s.endLat;
  n[at + 6] = s.endLon;
  n[at + 7] = s.distanceKm;
  n[at + 8] = s.maxSpeed;
  n[at + 9] = s.idleMs;
  n[at + 10] = s.closed ? 1 : 0;
  n[at + 11] = s.openedTs ?? NaN;
}

function unpackSegment(n: readonly number[], at: number, kind: SegmentState['kind']): SegmentState | null {
  if (n[at] === 0) return null;
  const s: SegmentState = {
    kind, startTs: n[at + 1], endTs: n[at + 2], startLat: n[at + 3], startLon: n[at + 4], endLat: n[at + 5], endLon: n[at + 6],
    distanceKm: n[at + 7], maxSpeed: n[at + 8], idleMs: n[at + 9], closed: n[at + 10] === 1,
  };
  if (!Number.isNaN(n[at + 11])) s.openedTs = n[at + 11];
  return s;
}

/** A new DomainState equal to the one packed (status and lastReceivedAt as given: they are the live ones). */
export function unpackDomain(p: PackedDomain, status: DeviceStatus, lastReceivedAt: number): DomainState {
  const n = p.nums;
  const fuel = new Array<number>(n[FUEL_AT]);
  for (let i = 0; i < fuel.length; i++) fuel[i] = n[FUEL_AT + 1 + i];
  return {
    moving: n[0] === 1, anchorLat: n[1], anchorLon: n[2], anchorTs: n[3], stillTs: n[4], stillLat: n[5], stillLon: n[6],
    anchorDistKm: n[7], anchorIdleMs: n[8],
    segment: unpackSegment(n, HEAD, p.segmentKind), previous: unpackSegment(n, HEAD + SEGMENT, p.previousKind),
    idleSince: n[9], idling: n[10] === 1, overSince: n[11], underSince: n[12], overspeeding: n[13] === 1, overMax: n[14],
    fuelReadings: fuel, fuelBaseline: n[15], fuelLast: n[16], status, lastReceivedAt, driver: p.driver, alarm: p.alarm,
  };
}
