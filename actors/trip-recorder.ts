import type { DomainSettings } from './domain/domain-settings.js';
import { haversineKm } from './domain/geo.js';
import type { DomainState, SegmentState } from './domain/domain-state.js';
import type { EventWriter } from './event-writer.js';

/** A live point as the recorder sees it (after filters and jitter snapping). */
export interface MotionPoint {
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  /** km/h, reported or derived. */
  readonly speed: number;
  readonly ignition: boolean | undefined;
}

/** `by`: the point that opened it (the reorder window withholds a segment until that point is settled). */
function open(kind: SegmentState['kind'], at: MotionPoint | { ts: number; lat: number; lon: number }, by: number): SegmentState {
  return { kind, startTs: at.ts, endTs: at.ts, startLat: at.lat, startLon: at.lon, endLat: at.lat, endLon: at.lon, distanceKm: 0, maxSpeed: 0, idleMs: 0, closed: false, openedTs: by };
}

function extend(s: SegmentState, p: MotionPoint): void {
  s.endTs = p.ts;
  s.endLat = p.lat;
  s.endLon = p.lon;
}

/**
 * Motion with hysteresis, trips and stops, idle. Traccar's current logic: a stopped vehicle
 * moves once it is tripMinDistanceM from where it stopped; a moving one stops once it stayed
 * within tripMinDistanceM of one position for stopMinDurationS (the trip ends where that
 * began); tripGapS without data ends a trip at its last point. Jitter never leaves the radius,
 * so it is never a trip. `closed` receives every segment that closes (to be written).
 */
export function recordMotion(d: DomainState, s: DomainSettings, prev: MotionPoint | null, p: MotionPoint, hopKm: number, ev: EventWriter, closed: SegmentState[]): void {
  if (prev === null || d.segment === null) {
    d.segment = open(d.moving ? 'trip' : 'stop', p, p.ts);
    setAnchor(d, p, 0);
    setStill(d, p);
    return;
  }
  const dt = p.ts - prev.ts;
  const gap = dt > s.tripGapS * 1000;
  const radiusKm = s.tripMinDistanceM / 1000;
  if (gap && d.moving) {
    endTrip(d, prev, d.segment.distanceKm, 0, ev, closed, p.ts);
  }
  const seg = d.segment as SegmentState;
  if (!d.moving) {
    if (haversineKm(d.anchorLat, d.anchorLon, p.lat, p.lon) >= radiusKm) {
      // Departure: the stop ends at the last point that stood still, the trip starts there
      // (with the distance crept since). After a gap the way it went is unknown: the trip
      // starts at the first point back.
      const still = { ts: d.stillTs, lat: d.stillLat, lon: d.stillLon };
      endIdle(d, still, ev);
      seg.endTs = still.ts;
      seg.endLat = still.lat;
      seg.endLon = still.lon;
      seg.closed = true;
      closed.push(seg);
      d.previous = seg;
      ev.emit('stop_end', still.ts, still.lat, still.lon, { durationMs: still.ts - seg.startTs });
      const from = gap ? p : still;
      const trip = open('trip', from, p.ts);
      trip.distanceKm = gap ? 0 : d.anchorDistKm + hopKm;
      trip.maxSpeed = p.speed;
      extend(trip, p);
      d.segment = trip;
      d.moving = true;
      ev.emit('trip_start', from.ts, from.lat, from.lon);
      setAnchor(d, p, trip.distanceKm);
      return;
    }
    extend(seg, p);
    const still = hopKm === 0 || p.speed < s.movingSpeedKmh;
    if (still) setStill(d, p);
    else d.anchorDistKm += hopKm;
    // Idle is standing with the ignition on; time without data is not idle time.
    if (prev.ignition === true && !gap && still) seg.idleMs += dt;
    trackIdle(d, s, prev, p, ev);
    return;
  }
  seg.distanceKm += hopKm;
  if (p.speed > seg.maxSpeed) seg.maxSpeed = p.speed;
  extend(seg, p);
  if (haversineKm(d.anchorLat, d.anchorLon, p.lat, p.lon) < radiusKm) {
    if (prev.ignition === true) d.anchorIdleMs += dt;
    if (p.ts - d.anchorTs >= s.stopMinDurationS * 1000) {
      endTrip(d, { ts: d.anchorTs, lat: d.anchorLat, lon: d.anchorLon, speed: 0, ignition: undefined }, d.anchorDistKm, d.anchorIdleMs, ev, closed, p.ts);
      extend(d.segment as SegmentState, p);
      trackIdle(d, s, prev, p, ev);
    }
  } else {
    setAnchor(d, p, seg.distanceKm);
  }
}

function setStill(d: DomainState, p: { ts: number; lat: number; lon: number }): void {
  d.stillTs = p.ts;
  d.stillLat = p.lat;
  d.stillLon = p.lon;
  d.anchorDistKm = 0;
}

function setAnchor(d: DomainState, p: { ts: number; lat: number; lon: number }, distKm: number): void {
  d.anchorLat = p.lat;
  d.anchorLon = p.lon;
  d.anchorTs = p.ts;
  d.anchorDistKm = distKm;
  d.anchorIdleMs = 0;
}

/** The trip ends at `at` (its distance as it was there); a stop opens there. */
function endTrip(d: DomainState, at: MotionPoint, distanceKm: number, idleMs: number, ev: EventWriter, closed: SegmentState[], by: number): void {
  const trip = d.segment as SegmentState;
  trip.distanceKm = distanceKm;
  trip.endTs = at.ts;
  trip.endLat = at.lat;
  trip.endLon = at.lon;
  trip.closed = true;
  closed.push(trip);
  d.previous = trip;
  ev.emit('trip_end', at.ts, at.lat, at.lon, { distanceKm: Math.round(distanceKm * 1000) / 1000, durationMs: at.ts - trip.startTs });
  const stop = open('stop', at, by);
  stop.idleMs = idleMs;
  d.segment = stop;
  d.moving = false;
  setAnchor(d, at, 0);
  setStill(d, at);
  ev.emit('stop_start', at.ts, at.lat, at.lon);
}

/** idle_start once the ignition stayed on for idleMinDurationS while stopped; idle_end when it goes off. */
function trackIdle(d: DomainState, s: DomainSettings, prev: MotionPoint, p: MotionPoint, ev: EventWriter): void {
  if (p.ignition !== true) {
    endIdle(d, p, ev);
    return;
  }
  // On since before: idle since the stop began (a stop that just opened); else since now.
  if (d.idleSince === 0) d.idleSince = prev.ignition === true ? (d.segment as SegmentState).startTs : p.ts;
  if (!d.idling && p.ts - d.idleSince >= s.idleMinDurationS * 1000) {
    d.idling = true;
    ev.emit('idle_start', d.idleSince, p.lat, p.lon);
  }
}

function endIdle(d: DomainState, at: { ts: number; lat: number; lon: number }, ev: EventWriter): void {
  if (d.idling) ev.emit('idle_end', at.ts, at.lat, at.lon, { durationMs: at.ts - d.idleSince });
  d.idling = false;
  d.idleSince = 0;
}
