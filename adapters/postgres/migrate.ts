import type pg from 'pg';
import type { Logger } from '../../actors/ports/logger.js';
import { migrations as builtIn, type Migration } from './migrations.js';

/** pg_advisory_lock key held while migrating ('flmg' as int32): one runner at a time per database. */
const MIGRATION_LOCK_KEY = 0x666c6d67;

export interface MigrateOptions {
  readonly migrations?: readonly Migration[];
  readonly logger?: Logger;
}

export interface MigrateResult {
  /** Versions applied by this call, in order (empty when the schema was current). */
  readonly applied: number[];
  /** The highest version in schema_migrations afterwards. */
  readonly current: number;
}

/**
 * Brings the schema up to date. Each migration runs in its own transaction together with its
 * schema_migrations row, so a failed migration leaves no trace and is retried next start. The
 * whole run holds a session advisory lock: nodes starting together queue up, the first applies
 * the migrations, the others find them applied. Idempotent: a second run applies nothing.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const list = [...(options.migrations ?? builtIn)].sort((a, b) => a.version - b.version);
  for (let i = 0; i < list.length; i++) {
    const v = list[i].version;
    if (!Number.isInteger(v) || v <= 0) throw new Error(`migration ${list[i].name}: version must be a positive integer`);
    if (i > 0 && list[i - 1].version === v) throw new Error(`migration version ${v} is defined twice`);
  }
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Waiting for another runner and a long migration must not hit the pool's statement_timeout.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    int PRIMARY KEY,
        name       text NOT NULL DEFAULT '',
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of list) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
        }
        applied.push(m.version);
        options.logger?.info({ version: m.version, name: m.name }, 'migration applied');
      }
      const max = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      return { applied, current: max.rows[0].v ?? 0 };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } catch (e) {
    broken = e as Error;
    throw e;
  } finally {
    if (broken) {
      client.release(true); // drop the session: releases its advisory lock whatever state it is in
    } else {
      await client.query('RESET statement_timeout');
      client.release();
    }
  }
}
