import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPgPool } from '../../adapters/postgres/pg-pool.js';
import { migrate } from '../../adapters/postgres/migrate.js';

/** Admin connection (any database the test user may CREATE DATABASE from). */
export const TEST_PG_ADMIN_URL = process.env.FLEETLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the test database (max 4), as the engine would create it. */
  readonly pool: pg.Pool;
  /** Another pool on the same database (for concurrency tests); closed by drop(). */
  newPool(): pg.Pool;
  /** Ends every pool and drops the database. */
  drop(): Promise<void>;
}

/** Creates a database of its own (fleetline_test_<random>), dropped by drop(). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `fleetline_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${TEST_PG_ADMIN_URL} (${(e as Error).message}); start it with scripts/services.sh up`);
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const pools: pg.Pool[] = [];
  const newPool = (): pg.Pool => {
    const p = createPgPool({ connectionString: url.toString(), applicationName: 'fleetline-test' });
    pools.push(p);
    return p;
  };
  const pool = newPool();
  return {
    name,
    url: url.toString(),
    pool,
    newPool,
    async drop() {
      await Promise.allSettled(pools.map((p) => p.end()));
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** createTestDatabase() with the engine's schema applied. */
export async function createMigratedDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await migrate(db.pool);
  return db;
}
