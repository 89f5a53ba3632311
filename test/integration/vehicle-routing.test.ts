/**
 * One writer per vehicle: a vehicle's actor lives in its own partition (murmur2 of the vehicle
 * id); points of its devices that arrive in other partitions of telemetry.raw are forwarded
 * there through telemetry.by-vehicle. Two engine nodes of one deployment, real Kafka, Redis and
 * PostgreSQL; devices bound to vehicles in PostgreSQL (the back office's tables).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { vehiclePartition } from '../../cluster/vehicle-partition.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { adminHeaders, postJson, TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';

const PARTITIONS = 6;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first id `prefix-<n>` whose partition satisfies `ok` (ids are picked, never hoped for). */
function pick(prefix: string, partitionOf: (id: string) => number, ok: (p: number) => boolean): string {
  for (let n = 0; ; n++) if (ok(partitionOf(`${prefix}-${n}`))) return `${prefix}-${n}`;
}

describe('#8 one writer per vehicle: points forwarded to the vehicle\'s partition', { timeout: 240_000 }, () => {
  let dep: RealDeployment;
  const nodes: FleetlineNode[] = [];
  const devicePartition = (d: string) => partitionForKey(d, PARTITIONS);
  const homeOf = (v: string) => vehiclePartition(v, PARTITIONS);
  // A two-device vehicle whose devices land in two other partitions than the vehicle's home.
  const twin = pick('twin', homeOf, () => true);
  const devA = pick('dev-a', devicePartition, (p) => p !== homeOf(twin));
  const devB = pick('dev-b', devicePartition, (p) => p !== homeOf(twin) && p !== devicePartition(devA));
  // A device re-bound from one vehicle to another that lives in another partition.
  const before_ = pick('before', homeOf, () => true);
  const after_ = pick('after', homeOf, (p) => p !== homeOf(before_));
  const devC = pick('dev-c', devicePartition, () => true);
  const t0 = Date.now() - 600_000;

  const start = async (nodeId: string) => {
    const config = loadConfig({ ...dep.env, NODE_ID: nodeId, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, CHECKPOINT_INTERVAL_MS: '200', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const node = await startNode(config, pino({ level: config.logLevel }));
    nodes.push(node);
    return node;
  };
  const view = async (node: FleetlineNode, id: string): Promise<VehicleView | null> => {
    const res = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent(id)}`, { headers: await adminHeaders() });
    return res.status === 200 ? ((await res.json()) as VehicleView) : null;
  };
  const post = async (node: FleetlineNode, points: unknown[]) => {
    const res = await postJson(`${node.url}/v1/telemetry`, points, await adminHeaders());
    assert.equal(res.status, 202, JSON.stringify(res.body));
  };
  const actors = () => nodes.reduce((n, node) => n + node.supervisor.actors, 0);
  const storedTs = async (vehicleId: string): Promise<number[]> => {
    const { rows } = await dep.db.pool.query<{ ts: Date }>('SELECT ts FROM positions WHERE vehicle_id = $1 ORDER BY ts', [vehicleId]);
    return rows.map((r) => r.ts.getTime());
  };

  before(async () => {
    dep = await createRealDeployment(PARTITIONS);
    await seedReference(dep.db, [{ id: 'A' }], [
      { id: twin, companyId: 'A', deviceId: devA },
      { id: before_, companyId: 'A', deviceId: devC },
      { id: after_, companyId: 'A', deviceId: 'spare' },
    ]);
    await dep.db.pool.query('INSERT INTO device_bindings (device_id, vehicle_id) VALUES ($1, $2)', [devB, twin]);
    await start('node-a');
    await start('node-b');
    await waitFor('the two nodes to share the partitions', () => nodes.every((n) => n.supervisor.health.partitions.length > 0)
      && nodes.reduce((s, n) => s + n.supervisor.health.partitions.length, 0) === PARTITIONS);
  });
  after(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    await dep?.cleanup();
  });

  it('#8.20 a vehicle fed by two devices in two other partitions has one actor, which applies every point of both in order; locate names its partition', async () => {
    const points: { deviceId: string; ts: number; lat: number; lon: number }[] = [];
    for (let i = 0; i < 20; i++) points.push({ deviceId: i % 2 === 0 ? devA : devB, ts: t0 + i * 1000, lat: 52.5 + i * 0.001, lon: 13.4 });
    for (const [i, p] of points.entries()) {
      // Alternate the two devices, each point sent once the previous one is on the map: with
      // one writer every point is applied; two actors would each see half of them.
      await post(nodes[i % 2], [p]);
      await waitFor(`point ${i} on the map`, async () => (await view(nodes[(i + 1) % 2], twin))?.ts === p.ts);
    }
    assert.equal(actors(), 1, 'one actor in the whole cluster');
    const holder = nodes.find((n) => n.supervisor.holds(homeOf(twin)));
    assert.ok(holder, 'the vehicle\'s home partition is held');
    await waitFor('every point stored once', async () => (await storedTs(twin)).length === points.length);
    assert.deepEqual(await storedTs(twin), points.map((p) => p.ts));
    const { rows } = await dep.db.pool.query<{ device_id: string }>('SELECT device_id FROM positions WHERE vehicle_id = $1 ORDER BY ts', [twin]);
    assert.deepEqual(rows.map((r) => r.device_id), points.map((p) => p.deviceId), 'each stored position names its device');

    const located = await (await fetch(`${nodes[0].url}/v1/admin/locate/${twin}`, { headers: await adminHeaders() })).json() as { partition: number; node: string; devices: { deviceId: string; partition: number }[] };
    assert.equal(located.partition, homeOf(twin));
    assert.deepEqual(located.devices.map((d) => [d.deviceId, d.partition]).sort(), [[devA, devicePartition(devA)], [devB, devicePartition(devB)]].sort());
    const metrics = await Promise.all(nodes.map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
    const forwarded = metrics.reduce((s, m) => s + Number(/^fleetline_points_forwarded_total\{[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0), 0);
    assert.equal(forwarded, points.length, 'every point crossed to the vehicle\'s partition');
  });

  it('#8.21 re-binding a device while it sends: every point is stored exactly once, under the old vehicle until the switch and the new one after it', async () => {
    const total = 120;
    const ts = (i: number) => t0 + 100_000 + i * 1000;
    let sent = 0;
    const sending = (async () => {
      for (; sent < total; sent++) {
        await post(nodes[sent % 2], [{ deviceId: devC, ts: ts(sent), lat: 48.1 + sent * 0.0005, lon: 11.5 }]);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await waitFor('the device to be under way', () => sent >= total / 3);
    await dep.db.pool.query('UPDATE device_bindings SET vehicle_id = $1 WHERE device_id = $2', [after_, devC]);
    await sending;
    await waitFor('the new vehicle at the last point', async () => (await view(nodes[0], after_))?.ts === ts(total - 1));
    await waitFor('every point stored', async () => (await storedTs(before_)).length + (await storedTs(after_)).length === total);
    const old = await storedTs(before_);
    const now = await storedTs(after_);
    assert.ok(old.length > 0 && now.length > 0, `both vehicles got points (${old.length} + ${now.length})`);
    assert.deepEqual([...old, ...now], Array.from({ length: total }, (_, i) => ts(i)), 'a clean switch: none lost, none twice, none back under the old vehicle');
    assert.equal((await view(nodes[1], before_))?.ts, old[old.length - 1], 'the old vehicle stays at its last point');
    assert.equal(actors(), 3, 'one actor per vehicle');
  });
});
