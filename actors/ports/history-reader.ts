import type { TripSegment } from '../domain/trip-segment.js';

/**
 * The read side of durable history (positions, events, trips and stops): what the track, events
 * and report routes ask of storage. PostgreSQL implements it (adapters/postgres/pg-history-reader.ts);
 * the embedded mode keeps no history and has no reader. Times are ms since epoch; every range is
 * half-open, [from, to). Pages are keyset pages: `after` is the last row of the previous page.
 */
export interface HistoryReader {
  readonly kind: string;
  /** A vehicle's positions in the range after `afterTs`, oldest first, at most `limit`. */
  track(q: TrackQuery): Promise<TrackColumns>;
  /** A vehicle's events in the range, by (ts, id). */
  events(q: EventQuery): Promise<StoredEvent[]>;
  /** Trips or stops that start in the range, by (startTs, id). */
  segments(q: SegmentQuery): Promise<TripSegment[]>;
  /** One summary per vehicle asked for, in the order asked. */
  summaries(q: SummaryQuery): Promise<VehicleSummary[]>;
}

export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/** The row of the previous page a keyset page starts after. */
export interface KeysetPosition {
  readonly ts: number;
  readonly id: string;
}

export interface TrackQuery extends TimeRange {
  readonly vehicleId: string;
  readonly afterTs: number | null;
  readonly limit: number;
}

/** Positions as columns (a month is ~260k points: arrays of numbers, not 260k objects). NaN: not reported. */
export interface TrackColumns {
  readonly ts: Float64Array;
  readonly lat: Float64Array;
  readonly lon: Float64Array;
  readonly speed: Float64Array;
  readonly course: Float64Array;
}

export interface EventQuery extends TimeRange {
  readonly vehicleId: string;
  /** Only these types; null: every type. */
  readonly types: readonly string[] | null;
  /** Only rows recorded for these companies; null: any (admin). */
  readonly companies: readonly string[] | null;
  readonly after: KeysetPosition | null;
  readonly limit: number;
}

export interface StoredEvent {
  readonly id: string;
  readonly vehicleId: string;
  readonly company: string | null;
  readonly type: string;
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly data: Readonly<Record<string, unknown>> | null;
}

export interface SegmentQuery extends TimeRange {
  readonly kind: TripSegment['kind'];
  /** Only these vehicles; null: every vehicle of `companies`. */
  readonly vehicles: readonly string[] | null;
  /** Only rows recorded for these companies; null: any (admin). */
  readonly companies: readonly string[] | null;
  readonly after: KeysetPosition | null;
  readonly limit: number;
}

export interface SummaryQuery extends TimeRange {
  readonly vehicles: readonly string[];
  /** Only rows recorded for these companies; null: any (admin). */
  readonly companies: readonly string[] | null;
}

/** A vehicle's period, added up from its trips and stops that start in it, and its overspeed events. */
export interface VehicleSummary {
  readonly vehicleId: string;
  readonly trips: number;
  readonly stops: number;
  readonly distanceKm: number;
  /** Sum of the trips' durations. */
  readonly drivingMs: number;
  /** Sum of the stops' durations. */
  readonly stoppedMs: number;
  /** Ignition on while standing, over trips and stops. */
  readonly idleMs: number;
  /** km/h, the highest of the trips' maxima (0 without trips). */
  readonly maxSpeed: number;
  readonly overspeeds: number;
}

/**
 * Event types that count as one overspeed: the start of each (`overspeed_start`; its
 * `overspeed_end` is not counted again), and `overspeed`, the name rows written before overspeeds
 * had a start and an end carry.
 */
export const OVERSPEED_EVENT_TYPES: readonly string[] = ['overspeed_start', 'overspeed'];
