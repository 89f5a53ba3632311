/**
 * `npm run bench:positions`: the ways positions can reach PostgreSQL, on the real server, in one
 * run. A database of its own (fleetline_bench_<random>, dropped at the end); BENCH_ROWS
 * positions of BENCH_DEVICES simulated devices (engine/simulator), written in batches of
 * BENCH_BATCH rows (about what one partition's checkpoint carries at 100k points/s over 24
 * partitions), each strategy into an emptied positions table, the strategies taking turns for
 * BENCH_RUNS rounds (the machine is shared: turns spread its load over all of them):
 *   insert-unnest   INSERT ... SELECT FROM unnest(12 arrays) ON CONFLICT DO NOTHING, 5,000 rows
 *                   a statement (the path before COPY)
 *   copy            one binary COPY per batch into positions (PRIMARY KEY (vehicle_id, ts) per day)
 *   copy-deduped    binary COPY into a temporary staging table, then INSERT ... SELECT ...
 *                   ON CONFLICT DO NOTHING, one transaction per batch (the replay path)
 *   copy-replayed   copy-deduped of batches that are all stored already (a replay after a crash)
 *   copy-no-key     binary COPY into a table like positions without its key (what dropping the
 *                   key would buy; duplicates would then have to be removed some other way)
 * Prints rows/s per strategy (median and best). Numbers, not assertions.
 *
 * Environment (all optional): BENCH_ROWS (200000), BENCH_DEVICES (20000), BENCH_BATCH (4000),
 * BENCH_RUNS (3), FLEETLINE_BENCH_PG_URL (admin connection).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import type pg from 'pg';
import type { PositionRow } from '../actors/ports/history-store.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { createPgPool } from '../adapters/postgres/pg-pool.js';
import { ensurePartitions } from '../adapters/postgres/position-partitions.js';
import { copyPositions, copyPositionsDeduped, insertPositionsUnnest } from '../adapters/postgres/position-writes.js';
import { POSITION_COLUMNS, positionsCopyChunks } from '../adapters/postgres/position-copy.js';
import { from as copyFrom } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { createBenchDatabase, dropBenchDatabase } from './bench-stores.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 4000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

type Strategy = (pool: pg.Pool, rows: readonly PositionRow[]) => Promise<unknown>;

async function copyNoKey(pool: pg.Pool, rows: readonly PositionRow[]): Promise<void> {
  const client = await pool.connect();
  try {
    await pipeline(Readable.from(positionsCopyChunks(rows), { objectMode: false }), client.query(copyFrom(`COPY positions_nokey (${POSITION_COLUMNS}) FROM STDIN (FORMAT binary)`)));
  } finally {
    client.release();
  }
}

function makeRows(): PositionRow[] {
  const sim = new RouteSimulator({ devices: DEVICES, seed: 3 });
  const rows: PositionRow[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let round = 0; rows.length < ROWS; round++) {
    for (const p of sim.tick(t0 + round * 5000)) {
      if (rows.length === ROWS) break;
      rows.push({ vehicleId: `veh-${p.deviceId}`, point: p });
    }
  }
  return rows;
}

async function timed(pool: pg.Pool, write: Strategy, rows: readonly PositionRow[]): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) await write(pool, rows.slice(i, i + BATCH));
  return performance.now() - started;
}

async function main(): Promise<void> {
  const name = `fleetline_bench_${randomBytes(5).toString('hex')}`;
  const url = await createBenchDatabase(name);
  const pool = createPgPool({ connectionString: url, applicationName: 'fleetline-bench-positions', statementTimeoutMs: 600_000 });
  try {
    await migrate(pool);
    await ensurePartitions(pool, Date.now() - 2 * 86_400_000, Date.now() + 86_400_000);
    await pool.query('CREATE TABLE positions_nokey (LIKE positions)');
    const rows = makeRows();
    const count = async (table: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    const strategies: [string, string, Strategy, () => Promise<void>][] = [
      ['insert-unnest', 'positions', insertPositionsUnnest, () => pool.query('TRUNCATE positions').then(() => {})],
      ['copy', 'positions', copyPositions, () => pool.query('TRUNCATE positions').then(() => {})],
      ['copy-deduped', 'positions', copyPositionsDeduped, () => pool.query('TRUNCATE positions').then(() => {})],
      // Writes every row first (not measured), then the same batches again: all duplicates.
      ['copy-replayed', 'positions', copyPositionsDeduped, async () => {
        await pool.query('TRUNCATE positions');
        await timed(pool, copyPositions, rows);
      }],
      ['copy-no-key', 'positions_nokey', copyNoKey, () => pool.query('TRUNCATE positions_nokey').then(() => {})],
    ];
    const times = new Map<string, number[]>(strategies.map(([s]) => [s, []]));
    console.log(`fleetline bench:positions — ${cpus().length} cores, node ${process.version}; ${ROWS.toLocaleString('en-US')} positions of ${DEVICES.toLocaleString('en-US')} devices in batches of ${BATCH}, ${RUNS} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (let run = 0; run < RUNS; run++) {
      for (const [label, table, write, reset] of strategies) {
        await reset();
        const ms = await timed(pool, write, rows);
        const n = await count(table);
        if (n !== ROWS) throw new Error(`${label}: ${n} rows stored, expected ${ROWS}`);
        times.get(label)?.push(ms);
        process.stderr.write(`  … round ${run + 1} ${label}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    }
    for (const [label, ms] of times) {
      const sorted = [...ms].sort((a, b) => a - b);
      const rate = (t: number) => Math.round((ROWS / t) * 1000).toLocaleString('en-US').padStart(9);
      console.log(`  ${label.padEnd(14)} median ${rate(sorted[Math.floor(sorted.length / 2)])} rows/s   best ${rate(sorted[0])} rows/s`);
    }
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await pool.end();
    await dropBenchDatabase(name);
  }
}

await main();
