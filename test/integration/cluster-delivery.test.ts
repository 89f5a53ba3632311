/**
 * Every node serves the whole fleet: two engine nodes of one deployment (real Kafka, Redis,
 * PostgreSQL) split the partitions by consistent hash; a client on either node sees every
 * vehicle its token grants, wherever its actor lives, and keeps seeing them when the other
 * node leaves and its partitions move.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encode } from '@msgpack/msgpack';
import type { ShardMap } from '../../cluster/shard-map.js';
import { pino } from 'pino';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { vehiclePartition } from '../../cluster/vehicle-partition.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { adminHeaders, postJson, StreamClient, TEST_SECRET, testToken } from '../support/engine.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';

const PARTITIONS = 4;
const VEHICLES = 12;
const enc = (v: unknown) => encode(v);
const run = promisify(execFile);

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('cluster: every node serves the whole fleet', { timeout: 240_000 }, () => {
  let dep: RealDeployment;
  const nodes = new Map<string, FleetlineNode>();
  const start = async (nodeId: string) => {
    const config = loadConfig({ ...dep.env, NODE_ID: nodeId, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, CHECKPOINT_INTERVAL_MS: '200', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const node = await startNode(config, pino({ level: config.logLevel }));
    nodes.set(nodeId, node);
    return node;
  };
  const cli = async (args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, ['bin/fleetline.mjs', ...args], {
      env: { ...process.env, KAFKA_BROKERS: dep.env.KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: dep.env.KAFKA_TOPIC_PREFIX, JWT_SECRET: TEST_SECRET },
    });
    return stdout;
  };
  const vehicles = Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` }));
  const t0 = Date.now() - 300_000;
  const post = async (node: FleetlineNode, round: number) => {
    const points = vehicles.map((v, i) => ({ deviceId: v.deviceId, ts: t0 + round * 1000, lat: 52.4 + i * 0.01, lon: 13.3 + round * 0.001, speed: 30 }));
    const res = await postJson(`${node.url}/v1/telemetry`, points, await adminHeaders());
    assert.equal(res.status, 202);
  };
  const lonOf = (round: number) => 13.3 + round * 0.001;
  const views = async (node: FleetlineNode, token: string): Promise<Map<string, VehicleView>> => {
    const res = await fetch(`${node.url}/v1/vehicles?bbox=13.0,52.0,14.0,53.0`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { vehicles: VehicleView[] };
    return new Map(body.vehicles.map((v) => [v.id, v]));
  };

  before(async () => {
    dep = await createRealDeployment(PARTITIONS);
    await seedReference(dep.db, [{ id: 'A' }, { id: 'B' }], vehicles);
  });
  after(async () => {
    for (const n of nodes.values()) await n.close().catch(() => {});
    await dep?.cleanup();
  });

  it('the CLI shows both members and the partition map; a client on node B receives the deltas of vehicles node A owns, GET on any node returns the whole fleet, and after A leaves B serves them from its own actors without a resubscribe', async () => {
    const a = await start('node-a');
    const b = await start('node-b');
    await waitFor('both nodes to hold partitions', () => a.supervisor.health.partitions.length > 0 && b.supervisor.health.partitions.length > 0
      && a.supervisor.health.partitions.length + b.supervisor.health.partitions.length === PARTITIONS);
    const ownedByA = vehicles.filter((v) => a.supervisor.holds(vehiclePartition(v.id, PARTITIONS)));

    // The operator's view (npx fleetline cluster status) is the same map, found from the
    // environment a node reads.
    const status = JSON.parse(await cli(['cluster', 'status', '--json'])) as ShardMap;
    assert.deepEqual(status.members.map((m) => m.nodeId).sort(), ['node-a', 'node-b']);
    for (const p of status.partitions) {
      assert.equal(p.owner, a.supervisor.holds(p.partition) ? 'node-a' : 'node-b', `partition ${p.partition}`);
    }
    const located = JSON.parse(await cli(['cluster', 'locate', ownedByA[0].id, '--json'])) as { partition: number; node: string; devices: { deviceId: string; partition: number; node: string }[] };
    assert.equal(located.partition, vehiclePartition(ownedByA[0].id, PARTITIONS));
    assert.equal(located.node, 'node-a');
    const devicePartition = partitionForKey(ownedByA[0].deviceId, PARTITIONS);
    assert.deepEqual(located.devices, [{ deviceId: ownedByA[0].deviceId, partition: devicePartition, node: a.supervisor.holds(devicePartition) ? 'node-a' : 'node-b' }]);
    assert.ok(ownedByA.length > 0 && ownedByA.length < VEHICLES, `node A owns some of the vehicles (${ownedByA.length})`);

    const reader = await testToken({ companies: ['A'] });
    const client = await StreamClient.connect(b.url, reader);
    await client.next((f) => f.t === 'ready');
    client.send({ t: 'sub', bbox: [13.0, 52.0, 14.0, 53.0] }, enc);
    await client.next((f) => f.t === 'snap');

    const seen = new Map<string, number>();
    const track = () => {
      for (const f of client.frames) if (f.t === 'd') for (const u of f.u as { id: string; lon?: number }[]) if (u.lon !== undefined) seen.set(u.id, u.lon);
      return seen;
    };
    for (let round = 1; round <= 3; round++) await post(a, round);
    await waitFor('node B\'s client to see every vehicle at round 3', () => vehicles.every((v) => track().get(v.id) === lonOf(3)));
    for (const node of [a, b]) {
      await waitFor('GET /v1/vehicles on every node to return the whole fleet', async () => {
        const got = await views(node, reader);
        return got.size === VEHICLES && [...got.values()].every((v) => v.lon === lonOf(3));
      });
    }

    // Node A leaves: its partitions move to B; the client on B keeps receiving, now from B's actors.
    nodes.delete('node-a');
    await a.close();
    await waitFor('node B to hold every partition', () => b.supervisor.health.partitions.length === PARTITIONS);
    for (let round = 4; round <= 5; round++) await post(b, round);
    await waitFor('node B\'s client to see every vehicle at round 5', () => vehicles.every((v) => track().get(v.id) === lonOf(5)));
    const got = await views(b, reader);
    assert.equal(got.size, VEHICLES);
    for (const v of ownedByA) assert.equal(got.get(v.id)?.lon, lonOf(5), `${v.id}, once node A's, is current on B`);
    client.close();
  });

  it('the CLI sets a weight (the map follows it) and drains a node: it hands its partitions off, leaves, and shows the new map', async () => {
    const b = nodes.get('node-b') as FleetlineNode;
    const c = await start('node-c');
    await waitFor('two nodes sharing the partitions', () => b.supervisor.health.partitions.length === 2 && c.supervisor.health.partitions.length === 2);

    const weighted = JSON.parse(await cli(['cluster', 'weight', 'node-b', '3', '--json'])) as ShardMap;
    const count = (map: ShardMap, id: string) => map.partitions.filter((p) => p.owner === id).length;
    assert.equal(count(weighted, 'node-b'), 3, 'weight 3 of 4 → 3 of 4 partitions');
    assert.equal(count(weighted, 'node-c'), 1);

    const drained = JSON.parse(await cli(['cluster', 'drain', 'node-c', '--json'])) as ShardMap;
    assert.deepEqual(drained.members.map((m) => m.nodeId), ['node-b']);
    assert.equal(count(drained, 'node-b'), PARTITIONS);
    await c.cluster?.drained;
    await waitFor('node B to hold every partition', () => b.supervisor.health.partitions.length === PARTITIONS);
    await post(b, 6);
    await waitFor('every vehicle applied on B after the drain', async () => [...(await views(b, await testToken({ companies: ['A'] }))).values()].every((v) => v.lon === lonOf(6)));
  });
});
