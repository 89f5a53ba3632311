import pg from 'pg';
import type { Logger } from '../../actors/ports/logger.js';

export interface PgPoolOptions {
  /** postgres://user[:pass]@host:port/db; default postgres://postgres@127.0.0.1:5432/fleetline */
  readonly connectionString?: string;
  /** Pool size (default 4): the engine writes in a few large batches, not many small ones. */
  readonly max?: number;
  /** Server-side statement_timeout in ms (default 30000). */
  readonly statementTimeoutMs?: number;
  /** How long to wait for a connection, in ms (default 5000). */
  readonly connectionTimeoutMs?: number;
  /** Idle connections are closed after this many ms (default 30000). */
  readonly idleTimeoutMs?: number;
  readonly applicationName?: string;
  readonly logger?: Logger;
}

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/fleetline';

/**
 * A small pg pool whose failures surface as rejections: every query is bounded by
 * statement_timeout, getting a connection by connectionTimeoutMillis, and an error on an idle
 * connection (server restart, network) is logged instead of crashing the process (pg emits
 * 'error' on the pool; an unhandled 'error' event would kill the node). The engine retries
 * failed checkpoints with backoff.
 */
export function createPgPool(options: PgPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString ?? DEFAULT_PG_URL,
    max: options.max ?? 4,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'fleetline',
  });
  pool.on('error', (err: Error) => {
    options.logger?.warn({ err: err.message }, 'postgres idle connection error');
  });
  return pool;
}

/** Something that runs queries: a pool or a checked-out client. */
/**
 * Runs `fn` in a transaction on a dedicated connection. On any error the transaction is rolled
 * back; a connection whose ROLLBACK fails is discarded, not returned to the pool.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no pool listener: a connection the server ends between two
  // statements (a restart, an administrator) would emit an unhandled 'error' and kill the node.
  // The next statement fails instead, and the transaction is given up below.
  let lost: Error | null = null;
  const onError = (err: Error) => { lost = err; };
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    client.off('error', onError);
    client.release();
    return result;
  } catch (e) {
    let clean = lost === null;
    if (clean) {
      try {
        await client.query('ROLLBACK');
      } catch {
        clean = false;
      }
    }
    client.off('error', onError);
    client.release(!clean);
    throw e;
  }
}
