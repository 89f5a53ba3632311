import type pg from 'pg';
import type { HistoryStore, PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { rederiveSegments, type SegmentRepair } from '../../actors/segment-repair.js';

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;
import { DAY_MS, dayStart, dropExpiredPartitions, ensureDayPartitions } from './position-partitions.js';
import { copyPositions, copyPositionsDeduped, UNIQUE_VIOLATION } from './position-writes.js';

export interface PgHistoryStoreOptions {
  /** Rows per INSERT statement of events and segments (default 5000); positions go in one COPY. */
  readonly chunkSize?: number;
  /**
   * When set, positions older than this many days are not written: retention would drop them,
   * and writing them would only recreate a partition that was just dropped.
   */
  readonly retentionDays?: number;
  /** close() ends the pool (default false: the caller owns it). */
  readonly ownsPool?: boolean;
}

const INSERT_EVENTS = `
INSERT INTO events (id, vehicle_id, company_id, type, ts, lat, lon, data)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::float8[], $8::jsonb[])
ON CONFLICT (id) DO NOTHING`;

const UPSERT_SEGMENTS = `
INSERT INTO segments (id, kind, vehicle_id, company_id, device_id, start_ts, end_ts, start_lat, start_lon, end_lat, end_lon,
                      distance_km, max_speed, avg_speed, idle_ms, closed)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                     $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::real[], $14::real[],
                     $15::int8[], $16::boolean[])
ON CONFLICT (id) DO UPDATE SET
  company_id = EXCLUDED.company_id, device_id = EXCLUDED.device_id, end_ts = EXCLUDED.end_ts,
  end_lat = EXCLUDED.end_lat, end_lon = EXCLUDED.end_lon, distance_km = EXCLUDED.distance_km,
  max_speed = EXCLUDED.max_speed, avg_speed = EXCLUDED.avg_speed, idle_ms = EXCLUDED.idle_ms,
  closed = EXCLUDED.closed, updated_at = now()`;

const POSITIONS_AFTER = `
SELECT device_id, ts, lat, lon, speed, course, alt, ignition, fuel, odometer, attrs FROM positions
WHERE vehicle_id = $1 AND ts > $2 ORDER BY ts DESC LIMIT $3`;

interface StoredPosition {
  device_id: string;
  ts: Date;
  lat: number;
  lon: number;
  speed: number | null;
  course: number | null;
  alt: number | null;
  ignition: boolean | null;
  fuel: number | null;
  odometer: number | null;
  attrs: Record<string, string | number | boolean> | null;
}

/** A stored row as the point it was (a NULL column is a field the device did not send). */
function toPoint(r: StoredPosition): TelemetryPoint {
  return {
    deviceId: r.device_id, ts: r.ts.getTime(), lat: r.lat, lon: r.lon,
    ...(r.speed !== null ? { speed: r.speed } : {}), ...(r.course !== null ? { course: r.course } : {}),
    ...(r.alt !== null ? { alt: r.alt } : {}), ...(r.ignition !== null ? { ignition: r.ignition } : {}),
    ...(r.fuel !== null ? { fuel: r.fuel } : {}), ...(r.odometer !== null ? { odometer: r.odometer } : {}),
    ...(r.attrs !== null ? { attrs: r.attrs } : {}),
  };
}

/** SQLSTATE 23514 "no partition of relation ... found for row": the day's partition is gone. */
const NO_PARTITION = '23514';

/**
 * Position history and events in PostgreSQL. Positions go to daily partitions (created on
 * demand, cached per day) by binary COPY (position-writes.ts); the (vehicle_id, ts) key makes
 * a replayed position fail the plain COPY, and the staged COPY with ON CONFLICT DO NOTHING
 * then writes each row once. Events are unique by their deterministic id.
 */
export class PgHistoryStore implements HistoryStore {
  readonly kind = 'postgres';
  private readonly chunkSize: number;
  /** UTC day starts whose partition this process has seen exist. */
  private readonly knownDays = new Set<number>();
  /** A COPY met a stored row: batches are deduplicated until one meets none. */
  private replaying = false;

  constructor(private readonly pool: pg.Pool, private readonly options: PgHistoryStoreOptions = {}) {
    this.chunkSize = Math.max(1, options.chunkSize ?? 5000);
  }

  async appendPositions(rows: readonly PositionRow[]): Promise<void> {
    const cutoff = this.options.retentionDays === undefined ? -Infinity : Date.now() - this.options.retentionDays * DAY_MS;
    const keep = cutoff === -Infinity ? rows : rows.filter((r) => r.point.ts >= cutoff);
    if (keep.length === 0) return;
    await this.ensureDays(keep);
    try {
      await this.writePositions(keep);
    } catch (e) {
      if ((e as { code?: string }).code !== NO_PARTITION) throw e;
      // A partition this process cached was dropped (retention on another node): recreate, retry once.
      this.knownDays.clear();
      await this.ensureDays(keep);
      await this.writePositions(keep);
    }
  }

  /**
   * A plain binary COPY while no row is stored already; a replay (after a crash or a hand-off,
   * points since the last commit come again) fails it with a unique violation, and from then on
   * batches go through the deduplicating staged COPY until one of them meets no stored row.
   */
  private async writePositions(rows: readonly PositionRow[]): Promise<void> {
    if (!this.replaying) {
      try {
        await copyPositions(this.pool, rows);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
        this.replaying = true;
      }
    }
    const inserted = await copyPositionsDeduped(this.pool, rows);
    if (inserted === rows.length) this.replaying = false;
  }

  async appendEvents(events: readonly VehicleEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += this.chunkSize) {
      const chunk = events.slice(start, start + this.chunkSize);
      const n = chunk.length;
      const id = new Array<string>(n);
      const vehicle = new Array<string>(n);
      const company = new Array<string | null>(n);
      const type = new Array<string>(n);
      const ts = new Array<string>(n);
      const lat = new Array<number>(n);
      const lon = new Array<number>(n);
      const data = new Array<string | null>(n);
      for (let i = 0; i < n; i++) {
        const e = chunk[i];
        id[i] = e.id;
        vehicle[i] = e.vehicleId;
        company[i] = e.company;
        type[i] = e.type;
        ts[i] = new Date(e.ts).toISOString();
        lat[i] = e.lat;
        lon[i] = e.lon;
        data[i] = e.data === undefined ? null : JSON.stringify(e.data);
      }
      await this.pool.query(INSERT_EVENTS, [id, vehicle, company, type, ts, lat, lon, data]);
    }
  }

  async upsertSegments(segments: readonly TripSegment[], db: Queryable = this.pool): Promise<void> {
    // One row per id per statement: ON CONFLICT DO UPDATE refuses to touch a row twice.
    const latest = [...new Map(segments.map((s) => [s.id, s])).values()];
    for (let start = 0; start < latest.length; start += this.chunkSize) {
      const chunk = latest.slice(start, start + this.chunkSize);
      const col = <T>(f: (s: TripSegment) => T): T[] => chunk.map(f);
      await db.query(UPSERT_SEGMENTS, [
        col((s) => s.id), col((s) => s.kind), col((s) => s.vehicleId), col((s) => s.company), col((s) => s.deviceId),
        col((s) => new Date(s.startTs).toISOString()), col((s) => new Date(s.endTs).toISOString()),
        col((s) => s.startLat), col((s) => s.startLon), col((s) => s.endLat), col((s) => s.endLon),
        col((s) => s.distanceKm), col((s) => s.maxSpeed), col((s) => s.avgSpeed), col((s) => Math.round(s.idleMs)), col((s) => s.closed),
      ]);
    }
  }

  /**
   * Late points re-cut the closed trips and stops of their period: from the last stop that began
   * at or before the late point up to the actor's open segment, the stored positions go through
   * the actor's trip recorder again (rederiveSegments) and the period's rows are replaced, in
   * one transaction. Runs after the checkpoint's positions are written, so the late ones are in.
   */
  async repairSegments(repairs: readonly SegmentRepair[]): Promise<void> {
    for (const r of repairs) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const stop = await client.query<{ ts: Date; lat: number; lon: number }>(
          `SELECT start_ts AS ts, start_lat AS lat, start_lon AS lon FROM segments
           WHERE vehicle_id = $1 AND kind = 'stop' AND start_ts <= $2 ORDER BY start_ts DESC LIMIT 1`, [r.vehicleId, new Date(r.lateTs).toISOString()]);
        const from = stop.rows[0] && { ts: stop.rows[0].ts.getTime(), lat: stop.rows[0].lat, lon: stop.rows[0].lon };
        // No stop before it (the vehicle's first trip): nothing to start a re-cut from.
        if (from === undefined || from.ts >= r.untilTs) {
          await client.query('ROLLBACK');
          continue;
        }
        const { rows } = await client.query<{ ts: Date; lat: number; lon: number; speed: number | null; ignition: boolean | null }>(
          'SELECT ts, lat, lon, speed, ignition FROM positions WHERE vehicle_id = $1 AND ts > $2 AND ts <= $3 ORDER BY ts',
          [r.vehicleId, new Date(from.ts).toISOString(), new Date(r.untilTs).toISOString()]);
        const points: TelemetryPoint[] = rows.map((p) => ({
          deviceId: r.deviceId, ts: p.ts.getTime(), lat: p.lat, lon: p.lon,
          ...(p.speed !== null ? { speed: p.speed } : {}), ...(p.ignition !== null ? { ignition: p.ignition } : {}),
        }));
        const segments = rederiveSegments(r, from, points);
        await client.query('DELETE FROM segments WHERE vehicle_id = $1 AND start_ts >= $2 AND start_ts < $3',
          [r.vehicleId, new Date(from.ts).toISOString(), new Date(r.untilTs).toISOString()]);
        await this.upsertSegments(segments, client);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    }
  }

  /**
   * The newest `limit` positions of a vehicle stamped after `afterTs`, oldest first: one range
   * scan of the (vehicle_id, ts) key of each day partition from `afterTs` on, read backwards.
   * speed, course, alt and fuel are stored as real: a value comes back as the float4 it was
   * stored as (node-pg parses its shortest text form, so 52.3 stays 52.3).
   */
  async positionsAfter(vehicleId: string, afterTs: number, limit: number): Promise<TelemetryPoint[]> {
    const { rows } = await this.pool.query<StoredPosition>(POSITIONS_AFTER, [vehicleId, Number.isFinite(afterTs) ? new Date(afterTs).toISOString() : '-infinity', Math.max(0, Math.floor(limit))]);
    const points = new Array<TelemetryPoint>(rows.length);
    for (let i = 0; i < rows.length; i++) points[rows.length - 1 - i] = toPoint(rows[i]);
    return points;
  }

  /** Retention (see dropExpiredPartitions); forgets the dropped days. */
  async dropExpiredPartitions(retentionDays: number, now: number = Date.now()): Promise<string[]> {
    const dropped = await dropExpiredPartitions(this.pool, retentionDays, now);
    if (dropped.length > 0) this.knownDays.clear();
    return dropped;
  }

  async close(): Promise<void> {
    if (this.options.ownsPool) await this.pool.end();
  }

  private async ensureDays(rows: readonly PositionRow[]): Promise<void> {
    const missing = new Set<number>();
    for (const r of rows) {
      const day = dayStart(r.point.ts);
      if (!this.knownDays.has(day)) missing.add(day);
    }
    if (missing.size === 0) return;
    await ensureDayPartitions(this.pool, missing);
    for (const d of missing) this.knownDays.add(d);
  }
}
