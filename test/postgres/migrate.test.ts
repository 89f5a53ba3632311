import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../../adapters/postgres/migrate.js';
import { migrations } from '../../adapters/postgres/migrations.js';
import { createTestDatabase, type TestDatabase } from './pg-test-db.js';

const LATEST = migrations[migrations.length - 1].version;

describe('migrate (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('two runners starting together both succeed; the advisory lock lets one apply everything', async () => {
    const [a, b] = await Promise.all([migrate(db.pool), migrate(db.newPool())]);
    assert.equal(a.current, LATEST);
    assert.equal(b.current, LATEST);
    assert.deepEqual([...a.applied, ...b.applied].sort((x, y) => x - y), migrations.map((m) => m.version));
    assert.ok(a.applied.length === 0 || b.applied.length === 0, 'exactly one runner applies the migrations');
    const { rows } = await db.pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    assert.deepEqual(rows, migrations.map((m) => ({ version: m.version, name: m.name })));
  });

  it('is idempotent: a second run applies nothing', async () => {
    const again = await migrate(db.pool);
    assert.deepEqual(again.applied, []);
    assert.equal(again.current, LATEST);
  });

  it('creates the documented tables, with positions partitioned by range', async () => {
    const { rows } = await db.pool.query<{ relname: string; relkind: string }>(
      `SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY relname`,
    );
    const tables = Object.fromEntries(rows.map((r) => [r.relname, r.relkind]));
    for (const t of ['companies', 'vehicles', 'device_bindings', 'drivers', 'geofences', 'events', 'vehicle_snapshots', 'partition_epochs', 'schema_migrations']) {
      assert.equal(tables[t], 'r', t);
    }
    assert.equal(tables.positions, 'p');
  });

  it('a failing migration rolls back entirely, is not recorded, and releases the lock', async () => {
    const broken = [...migrations, { version: LATEST + 1, name: 'broken', sql: 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;' }];
    await assert.rejects(migrate(db.pool, { migrations: broken }), /migration \d+ \(broken\) failed/);
    const { rows } = await db.pool.query(`SELECT to_regclass('half_done') AS t`);
    assert.equal(rows[0].t, null);
    const fixed = [...migrations, { version: LATEST + 1, name: 'fixed', sql: 'CREATE TABLE half_done (id int);' }];
    const res = await migrate(db.newPool(), { migrations: fixed });
    assert.deepEqual(res.applied, [LATEST + 1]);
  });

  it('rejects duplicate versions', async () => {
    await assert.rejects(migrate(db.pool, { migrations: [...migrations, migrations[0]] }), /defined twice/);
  });
});
