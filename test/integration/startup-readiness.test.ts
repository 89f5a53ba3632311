import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { CloseCodes } from '../../actors/domain/errors.js';
import { loadConfig } from '../../engine/config.js';
import { JwtAuth } from '../../engine/auth.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { adminHeaders, postJson, StreamClient, TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, type RealDeployment } from '../support/real-services.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A node restoring its actors is alive but not ready. The restore is held still by a real
 * PostgreSQL lock on partition_epochs (taking a partition's epoch is the first step of its
 * restore), so the test looks at the node in that state for as long as it needs.
 */
describe('start-up: the port answers while the actors are restored', () => {
  let dep: RealDeployment;
  let locker: pg.PoolClient;
  let starting: Promise<FleetlineNode>;
  let node: FleetlineNode | undefined;
  let base: string;
  let token: string;

  before(async () => {
    dep = await createRealDeployment(4);
    await migrate(dep.db.pool);
    locker = await dep.db.pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE partition_epochs IN EXCLUSIVE MODE');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    token = await new JwtAuth(TEST_SECRET).sign({ role: 'admin' });
    const config = loadConfig({ ...dep.env, PORT: String(port), OSMAND_PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });
    starting = startNode(config, pino({ level: 'silent' }));
    starting.catch(() => {}); // awaited by the tests; a failure shows there
  });
  after(async () => {
    await locker?.query('ROLLBACK').catch(() => {});
    locker?.release();
    node ??= await starting?.catch(() => undefined);
    await node?.close();
    await dep?.cleanup();
  });

  it('answers /healthz, says "starting" on /readyz, refuses intake and streams until restored', async () => {
    const health = await until('/healthz', async () => ((await fetch(`${base}/healthz`)).status === 200 ? true : undefined));
    assert.equal(health, true);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { status: string; components: Record<string, string> };
    assert.equal(body.status, 'not ready');
    assert.equal(body.components.checkpoints, 'starting');

    const post = await postJson(`${base}/v1/telemetry`, { deviceId: 'early-1', ts: Date.now(), lat: 52.5, lon: 13.4 }, await adminHeaders());
    assert.equal(post.status, 503);
    assert.equal((post.body as { error: { code: string } }).error.code, 'NOT_READY');
    const osmand = await fetch(`${base}/v1/osmand?id=early-2&timestamp=${Math.floor(Date.now() / 1000)}&lat=52.5&lon=13.4`);
    assert.equal(osmand.status, 503, 'OsmAnd reports by GET are intake too');
    await osmand.arrayBuffer();

    const early = await StreamClient.connect(base, token);
    assert.equal(await early.closed(), CloseCodes.NOT_READY);
  });

  it('becomes ready once the restore finishes, and then takes points and streams', async () => {
    await locker.query('COMMIT');
    node = await starting;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const client = await StreamClient.connect(base, token);
    try {
      await client.next((f) => f.t === 'ready');
      const post = await postJson(`${base}/v1/telemetry`, { deviceId: 'late-1', ts: Date.now(), lat: 52.5, lon: 13.4 }, await adminHeaders());
      assert.equal(post.status, 202);
    } finally {
      client.close();
    }
  });
});
