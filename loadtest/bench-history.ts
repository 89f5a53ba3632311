/**
 * `npm run bench:history`: the month-of-history report time on the real PostgreSQL. Seeds a
 * database of its own (fleetline_bench_<random>, dropped at the end) with one vehicle reporting
 * every 10 s for 30 days (259,200 positions: six trips a day, parked and jittering in between),
 * its trips and stops (what the vehicle actors write at checkpoints) and events, next to
 * BENCH_OTHER_VEHICLES other vehicles of the same company (a point every 5 min, their trips and
 * stops), then starts an engine node on it and times, over HTTP with a company token:
 *   track of the month simplified to 10 m (JSON, MessagePack, GeoJSON), and unsimplified;
 *   the trips report, the events, the vehicle's summary and the whole company's summary.
 * Prints the median and best of BENCH_RUNS runs of each, and the share of the track spent in
 * PostgreSQL and in the simplification. `--explain` prints EXPLAIN (ANALYZE, BUFFERS) of each
 * query (docs/storage.md shows them). Numbers, not assertions.
 *
 * Environment (all optional): BENCH_DAYS (30), BENCH_OTHER_VEHICLES (50), BENCH_RUNS (7),
 * FLEETLINE_BENCH_PG_URL (admin connection, postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { pino } from 'pino';
import { haversineKm } from '../actors/domain/geo.js';
import type { TripSegment } from '../actors/domain/trip-segment.js';
import type { VehicleEvent } from '../actors/domain/vehicle-event.js';
import type { PositionRow } from '../actors/ports/history-store.js';
import { OVERSPEED_EVENT_TYPES } from '../actors/ports/history-reader.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { createPgPool } from '../adapters/postgres/pg-pool.js';
import { PgHistoryReader } from '../adapters/postgres/pg-history-reader.js';
import { PgHistoryStore } from '../adapters/postgres/pg-history-store.js';
import { DAY_MS, dayStart } from '../adapters/postgres/position-partitions.js';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';
import { simplifyTrack } from '../engine/track-simplification.js';

const DAYS = Number(process.env.BENCH_DAYS ?? 30);
const OTHERS = Number(process.env.BENCH_OTHER_VEHICLES ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ADMIN_URL = process.env.FLEETLINE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EXPLAIN = process.argv.includes('--explain');
const VEHICLE = 'bench-v0';
const COMPANY = 'bench-co';
/** UTC hours of the day's trips (start, end); parked in between and overnight. */
const SCHEDULE: readonly [number, number][] = [[7, 7.75], [8.5, 9.5], [12, 12.67], [14, 15.17], [17, 17.83], [19, 19.5]];

/** Deterministic pseudo-random numbers: the same data on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface History {
  positions: PositionRow[];
  segments: TripSegment[];
  events: VehicleEvent[];
}

/** A vehicle's month: driving on the schedule with a wandering heading, parked (GPS jitter) otherwise. */
function vehicleHistory(vehicleId: string, start: number, days: number, stepMs: number, seed: number): History {
  const random = rng(seed);
  const out: History = { positions: [], segments: [], events: [] };
  let lat = 55.75 + random() * 0.1;
  let lon = 37.6 + random() * 0.1;
  let heading = random() * 360;
  const end = start + days * DAY_MS;
  type Open = { kind: TripSegment['kind']; startTs: number; startLat: number; startLon: number; km: number; max: number; idleMs: number };
  let segment = null as Open | null;
  const close = (ts: number) => {
    if (segment === null) return;
    const hours = (ts - segment.startTs) / 3_600_000;
    out.segments.push({
      id: `${vehicleId}:${segment.kind}:${segment.startTs}`, kind: segment.kind, vehicleId, company: COMPANY, deviceId: `dev-${vehicleId}`,
      startTs: segment.startTs, endTs: ts, startLat: segment.startLat, startLon: segment.startLon, endLat: lat, endLon: lon,
      distanceKm: segment.km, maxSpeed: segment.max, avgSpeed: segment.kind === 'trip' && hours > 0 ? segment.km / hours : 0, idleMs: segment.idleMs, closed: true,
    });
  };
  let overspeeding = false;
  for (let ts = start; ts < end; ts += stepMs) {
    const hour = ((ts - dayStart(ts)) / 3_600_000);
    const driving = SCHEDULE.some(([a, b]) => hour >= a && hour < b);
    const kind = driving ? 'trip' : 'stop';
    if (segment?.kind !== kind) {
      close(ts);
      segment = { kind, startTs: ts, startLat: lat, startLon: lon, km: 0, max: 0, idleMs: 0 };
      if (driving) out.events.push(event(vehicleId, 'trip_start', ts, lat, lon));
      else if (ts > start) out.events.push(event(vehicleId, 'trip_end', ts, lat, lon));
    }
    let speed = 0;
    let pLat = lat;
    let pLon = lon;
    if (driving) {
      heading = (heading + (random() - 0.5) * 30 + 360) % 360;
      speed = Math.floor(ts / 600_000) % 7 === 0 ? 95 + random() * 20 : 30 + random() * 50;
      const km = (speed * stepMs) / 3_600_000;
      const nLat = lat + (km / 111.2) * Math.cos((heading * Math.PI) / 180);
      const nLon = lon + (km / (111.2 * Math.cos((lat * Math.PI) / 180))) * Math.sin((heading * Math.PI) / 180);
      segment.km += haversineKm(lat, lon, nLat, nLon);
      segment.max = Math.max(segment.max, speed);
      lat = nLat;
      lon = nLon;
      pLat = lat;
      pLon = lon;
      if (speed > 90 && !overspeeding) out.events.push(event(vehicleId, 'overspeed_start', ts, lat, lon));
      if (speed <= 90 && overspeeding) out.events.push(event(vehicleId, 'overspeed_end', ts, lat, lon));
      overspeeding = speed > 90;
    } else {
      pLat = lat + (random() - 0.5) * 4e-5; // ±2 m of jitter while parked
      pLon = lon + (random() - 0.5) * 6e-5;
      if (ts - segment.startTs < 120_000) segment.idleMs += stepMs;
    }
    out.positions.push({ vehicleId, point: { deviceId: `dev-${vehicleId}`, ts, lat: pLat, lon: pLon, speed, course: Math.round(heading), ignition: driving } });
  }
  close(end);
  return out;
}

/** Event names as the vehicle domain writes them (a string here: the bench only stores them). */
function event(vehicleId: string, type: string, ts: number, lat: number, lon: number): VehicleEvent {
  return { id: `${vehicleId}:${type}:${ts}`, vehicleId, company: COMPANY, type: type as VehicleEvent['type'], ts, lat, lon };
}

async function timed(label: string, fn: () => Promise<string>): Promise<void> {
  const times: number[] = [];
  let note = '';
  await fn(); // warm-up: plans cached, pages in the buffer cache (a dashboard asks twice)
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    note = await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`  ${label.padEnd(52)} median ${times[Math.floor(times.length / 2)].toFixed(1).padStart(7)} ms   best ${times[0].toFixed(1).padStart(7)} ms   ${note}`);
}

async function main(): Promise<void> {
  // BENCH_DB names a database an earlier run kept (BENCH_KEEP_DB=1): no seeding, not dropped.
  const reuse = process.env.BENCH_DB;
  const keep = reuse !== undefined || process.env.BENCH_KEEP_DB === '1';
  const name = reuse ?? `fleetline_bench_${randomBytes(5).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`BENCH_DB: not a database name: ${name}`);
  if (reuse === undefined) {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = createPgPool({ connectionString: url.toString(), statementTimeoutMs: 0 });
  const drop = async () => {
    await pool.end().catch(() => {});
    if (keep) {
      console.log(`\nkept database ${name} (BENCH_DB=${name} runs again without seeding; drop it when done)`);
      return;
    }
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
  try {
    await migrate(pool);
    const start = dayStart(Date.now()) - DAYS * DAY_MS;
    const from = start;
    const to = start + DAYS * DAY_MS;
    const vehicles = [VEHICLE, ...Array.from({ length: OTHERS }, (_, i) => `bench-v${i + 1}`)];
    if (reuse === undefined) await seed(pool, vehicles, start);
    if (EXPLAIN) await explain(pool, from, to);

    const node = await startNode(loadConfig({
      PORT: '0', HOST: '127.0.0.1', JWT_SECRET: 'bench-secret-0123456789', LOG_LEVEL: 'warn', DATABASE_URL: url.toString(), HISTORY_RETENTION_DAYS: String(DAYS + 5),
    }), pino({ level: 'warn' }));
    try {
      const token = await node.auth.sign({ companies: [COMPANY] });
      const get = async (path: string, accept = 'application/json'): Promise<{ bytes: number; body: Buffer; headers: Headers }> => {
        const res = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept } });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.toString()}`);
        return { bytes: body.length, body, headers: res.headers };
      };
      const range = `from=${from}&to=${to}`;
      const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
      const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
      console.log(`\nOne vehicle, ${DAYS} days, over HTTP (engine in this process, ${RUNS} runs after a warm-up; ${cpus().length} cores, load average ${load()}):`);
      await timed('track, simplify=10 m, JSON', async () => {
        const r = await get(`/v1/vehicles/${VEHICLE}/track?${range}&simplify=10`);
        const doc = JSON.parse(r.body.toString()) as { rawCount: number; count: number };
        return `${doc.rawCount} → ${doc.count} points, ${kb(r.bytes)}`;
      });
      await timed('track, simplify=10 m, MessagePack', async () => `${kb((await get(`/v1/vehicles/${VEHICLE}/track?${range}&simplify=10&format=msgpack`)).bytes)}`);
      await timed('track, simplify=10 m, GeoJSON', async () => `${kb((await get(`/v1/vehicles/${VEHICLE}/track?${range}&simplify=10&format=geojson`)).bytes)}`);
      await timed('track, not simplified, MessagePack', async () => `${kb((await get(`/v1/vehicles/${VEHICLE}/track?${range}&format=msgpack`)).bytes)}`);
      await timed('trips report (JSON)', async () => {
        const doc = JSON.parse((await get(`/v1/reports/trips?${range}&vehicle=${VEHICLE}`)).body.toString()) as { count: number };
        return `${doc.count} trips`;
      });
      await timed('trips report (CSV)', async () => `${kb((await get(`/v1/reports/trips?${range}&vehicle=${VEHICLE}&format=csv`)).bytes)}`);
      await timed('events, type=overspeed_start', async () => {
        const doc = JSON.parse((await get(`/v1/vehicles/${VEHICLE}/events?${range}&type=overspeed_start`)).body.toString()) as { count: number };
        return `${doc.count} events`;
      });
      await timed('summary of the vehicle', async () => {
        const doc = JSON.parse((await get(`/v1/reports/summary?${range}&vehicle=${VEHICLE}`)).body.toString()) as { vehicles: { distanceKm: number; trips: number }[] };
        return `${doc.vehicles[0].trips} trips, ${doc.vehicles[0].distanceKm.toFixed(0)} km`;
      });
      await timed(`summary of the company (${vehicles.length} vehicles, one page)`, async () => {
        const doc = JSON.parse((await get(`/v1/reports/summary?${range}&company=${COMPANY}`)).body.toString()) as { count: number };
        return `${doc.count} vehicles`;
      });

      console.log('\nWhere the track time goes (in-process, no HTTP):');
      const reader = new PgHistoryReader(pool);
      let track = await reader.track({ vehicleId: VEHICLE, from, to, afterTs: null, limit: 500_001 });
      await timed('PostgreSQL read of the month (PgHistoryReader.track)', async () => {
        track = await reader.track({ vehicleId: VEHICLE, from, to, afterTs: null, limit: 500_001 });
        return `${track.ts.length} points`;
      });
      await timed('Douglas-Peucker, 10 m (simplify-js)', async () => `${simplifyTrack(track.lat, track.lon, 10).length} points kept`);
      console.log(`load average at the end: ${load()}`);
    } finally {
      await node.close();
    }
  } finally {
    await drop();
  }
}

async function seed(pool: pg.Pool, vehicles: readonly string[], start: number): Promise<void> {
  await pool.query('INSERT INTO companies (id, name) VALUES ($1, $1)', [COMPANY]);
  await pool.query(`INSERT INTO vehicles (id, company_id, name) SELECT v, $1, v FROM unnest($2::text[]) v`, [COMPANY, vehicles]);
  await pool.query(`INSERT INTO device_bindings (device_id, vehicle_id) SELECT 'dev-' || v, v FROM unnest($1::text[]) v`, [vehicles]);
  const store = new PgHistoryStore(pool);
  const seedStarted = performance.now();
  let positions = 0;
  let segments = 0;
  for (const [i, v] of vehicles.entries()) {
    const h = vehicleHistory(v, start, DAYS, i === 0 ? 10_000 : 300_000, i + 1);
    await store.appendPositions(h.positions);
    await store.upsertSegments(h.segments);
    await store.appendEvents(h.events);
    positions += h.positions.length;
    segments += h.segments.length;
    if (i === 0) console.log(`${VEHICLE}: ${h.positions.length} positions (1 / 10 s for ${DAYS} days), ${h.segments.length} trips and stops, ${h.events.length} events`);
  }
  await pool.query('VACUUM ANALYZE');
  const version = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  console.log(`seeded ${vehicles.length} vehicles: ${positions} positions, ${segments} trips and stops in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s (PostgreSQL ${version})`);
}

async function explain(pool: pg.Pool, from: number, to: number): Promise<void> {
  const sql = (await import('../adapters/postgres/pg-history-reader.js')).HISTORY_QUERIES;
  const runs: [string, string, unknown[]][] = [
    ['track', sql.track, [VEHICLE, from, to, null, 500_001]],
    ['trips of one vehicle', sql.segmentsOfVehicle, ['trip', from, to, null, null, 1001, VEHICLE, [COMPANY]]],
    ['trips of a company', sql.segmentsOfCompany, ['trip', from, to, null, null, 1001, COMPANY]],
    ['trips of two companies', sql.segmentsOfCompanies, ['trip', from, to, null, null, 1001, [COMPANY, 'other-co']]],
    ['events, type=overspeed_start', sql.events, [VEHICLE, from, to, ['overspeed_start'], [COMPANY], null, null, 1001]],
    ['events, every type', sql.events, [VEHICLE, from, to, null, [COMPANY], null, null, 1001]],
    ['summary of one vehicle', sql.summaries, [[VEHICLE], from, to, [COMPANY], OVERSPEED_EVENT_TYPES]],
  ];
  for (const [label, text, values] of runs) {
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, values });
    console.log(`\n-- ${label}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
