import type pg from 'pg';
import { withTransaction } from './pg-pool.js';

/** Transaction-level advisory lock key serialising partition creation and retention ('flpt'). */
const PARTITION_LOCK_KEY = 0x666c7074;
export const DAY_MS = 86_400_000;

const NAME = /^positions_(\d{4})(\d{2})(\d{2})$/;

/** Start (ms, UTC midnight) of the day holding `ts`. */
export function dayStart(ts: number): number {
  return Math.floor(ts / DAY_MS) * DAY_MS;
}

/** positions_YYYYMMDD for the UTC day starting at `day`. */
export function partitionName(day: number): string {
  return `positions_${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** The UTC day start a partition name stands for, or undefined for a foreign table. */
function partitionDay(name: string): number | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/**
 * Creates the daily partitions for the given UTC day starts that do not exist yet. Serialised
 * across nodes by an advisory transaction lock (CREATE TABLE IF NOT EXISTS alone still races
 * on the catalog). Returns the names created.
 */
export async function ensureDayPartitions(pool: pg.Pool, days: Iterable<number>): Promise<string[]> {
  const wanted = [...new Set([...days].map(dayStart))].sort((a, b) => a - b);
  if (wanted.length === 0) return [];
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    const names = wanted.map(partitionName);
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])`,
      [names],
    );
    const existing = new Set(rows.map((r) => r.name));
    const created: string[] = [];
    for (let i = 0; i < wanted.length; i++) {
      if (existing.has(names[i])) continue;
      const from = new Date(wanted[i]).toISOString();
      const to = new Date(wanted[i] + DAY_MS).toISOString();
      await client.query(`CREATE TABLE IF NOT EXISTS ${names[i]} PARTITION OF positions FOR VALUES FROM ('${from}') TO ('${to}')`);
      created.push(names[i]);
    }
    return created;
  });
}

/** Creates every daily partition from the day of `from` to the day of `to`, both included. */
export function ensurePartitions(pool: pg.Pool, from: Date | number, to: Date | number): Promise<string[]> {
  const first = dayStart(+from);
  const last = dayStart(+to);
  if (last < first) return Promise.resolve([]);
  if ((last - first) / DAY_MS > 3660) throw new RangeError('ensurePartitions: refusing to create more than ten years of daily partitions');
  const days: number[] = [];
  for (let d = first; d <= last; d += DAY_MS) days.push(d);
  return ensureDayPartitions(pool, days);
}

/** The daily partitions of positions, oldest first. */
export async function listPartitions(pool: pg.Pool): Promise<{ name: string; day: number }[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = 'positions' AND p.relnamespace = current_schema()::regnamespace`,
  );
  const out: { name: string; day: number }[] = [];
  for (const r of rows) {
    const day = partitionDay(r.name);
    if (day !== undefined) out.push({ name: r.name, day });
  }
  return out.sort((a, b) => a.day - b.day);
}

/**
 * Retention: drops every daily partition whose whole day is older than `retentionDays` days
 * before `now` (its upper bound <= now - retentionDays). Dropping a partition is instant and
 * leaves no dead rows, unlike DELETE. Returns the names dropped.
 */
export async function dropExpiredPartitions(pool: pg.Pool, retentionDays: number, now: number = Date.now()): Promise<string[]> {
  if (!Number.isFinite(retentionDays) || retentionDays < 1) throw new RangeError(`retentionDays must be >= 1, got ${retentionDays}`);
  const cutoff = now - retentionDays * DAY_MS;
  const expired = (await listPartitions(pool)).filter((p) => p.day + DAY_MS <= cutoff);
  if (expired.length === 0) return [];
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    for (const p of expired) await client.query(`DROP TABLE IF EXISTS ${p.name}`);
    return expired.map((p) => p.name);
  });
}
