import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PositionRow } from '../../actors/ports/history-store.js';
import { POSITION_COLUMNS, positionsCopyChunks } from './position-copy.js';
import { withTransaction } from './pg-pool.js';

/**
 * The ways positions reach PostgreSQL (`npm run bench:positions` measures each). PgHistoryStore
 * uses copyPositions, and copyPositionsDeduped once a COPY met a row already stored.
 */

/** SQLSTATE 23505 unique_violation: a row of the batch is stored already (a replay). */
export const UNIQUE_VIOLATION = '23505';

const COPY_POSITIONS = `COPY positions (${POSITION_COLUMNS}) FROM STDIN (FORMAT binary)`;

/**
 * One binary COPY into positions (PostgreSQL routes each row to its day's partition). All or
 * nothing: a row whose (vehicle_id, ts) is stored already fails the whole COPY with 23505.
 */
export async function copyPositions(pool: pg.Pool, rows: readonly PositionRow[]): Promise<number> {
  const client = await pool.connect();
  try {
    await copyInto(client, COPY_POSITIONS, rows);
  } catch (e) {
    releaseAfter(client, e);
    throw e;
  }
  client.release();
  return rows.length;
}

/**
 * Binary COPY into a session's temporary staging table (no WAL, no index), then one
 * INSERT ... SELECT ... ON CONFLICT (vehicle_id, ts) DO NOTHING into positions, in one
 * transaction: rows stored already (a replay), or twice in the batch, are written once.
 * Resolves with the rows inserted.
 */
export function copyPositionsDeduped(pool: pg.Pool, rows: readonly PositionRow[]): Promise<number> {
  return withTransaction(pool, async (client) => {
    // Per connection, emptied by every commit; IF NOT EXISTS makes it once per pooled connection.
    await client.query('CREATE TEMP TABLE IF NOT EXISTS positions_stage (LIKE positions) ON COMMIT DELETE ROWS');
    await copyInto(client, `COPY positions_stage (${POSITION_COLUMNS}) FROM STDIN (FORMAT binary)`, rows);
    const { rowCount } = await client.query(`INSERT INTO positions SELECT ${POSITION_COLUMNS} FROM positions_stage ON CONFLICT (vehicle_id, ts) DO NOTHING`);
    return rowCount ?? 0;
  });
}

const INSERT_UNNEST = `
INSERT INTO positions (${POSITION_COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::float8[], $6::real[],
                     $7::real[], $8::real[], $9::boolean[], $10::real[], $11::float8[], $12::jsonb[])
ON CONFLICT (vehicle_id, ts) DO NOTHING`;

/** The path before COPY: one INSERT ... SELECT FROM unnest(arrays) per chunk (kept for comparison). */
export async function insertPositionsUnnest(pool: pg.Pool, rows: readonly PositionRow[], chunkSize = 5000): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += chunkSize) {
    const { rowCount } = await pool.query(INSERT_UNNEST, positionParams(rows.slice(start, start + chunkSize)));
    inserted += rowCount ?? 0;
  }
  return inserted;
}

async function copyInto(client: pg.PoolClient, sql: string, rows: readonly PositionRow[]): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(positionsCopyChunks(rows), { objectMode: false }), stream);
}

/** A server error leaves the connection usable; anything else (a broken socket) discards it. */
function releaseAfter(client: pg.PoolClient, e: unknown): void {
  const serverError = typeof (e as { code?: unknown })?.code === 'string' && /^[0-9A-Z]{5}$/.test((e as { code: string }).code);
  client.release(serverError ? undefined : (e as Error));
}

function positionParams(rows: readonly PositionRow[]): unknown[] {
  const n = rows.length;
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array<unknown>(n));
  for (let i = 0; i < n; i++) {
    const { vehicleId, point: p } = rows[i];
    cols[0][i] = vehicleId;
    cols[1][i] = p.deviceId;
    cols[2][i] = new Date(p.ts).toISOString();
    cols[3][i] = p.lat;
    cols[4][i] = p.lon;
    cols[5][i] = p.speed ?? null;
    cols[6][i] = p.course ?? null;
    cols[7][i] = p.alt ?? null;
    cols[8][i] = p.ignition ?? null;
    cols[9][i] = p.fuel ?? null;
    cols[10][i] = p.odometer ?? null;
    cols[11][i] = p.attrs === undefined ? null : JSON.stringify(p.attrs);
  }
  return cols;
}
