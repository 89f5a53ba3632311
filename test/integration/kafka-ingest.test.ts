import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { pino } from 'pino';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { StreamClient, TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, kcatProduce, seedReference, type RealDeployment } from '../support/real-services.js';

describe('Kafka → actors → WebSocket and Redis (real Kafka, Redis, PostgreSQL)', () => {
  let dep: RealDeployment;
  let node: FleetlineNode;
  let admin: string;
  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }], [{ id: 'va1', companyId: 'A', deviceId: 'da1' }, { id: 'va2', companyId: 'A', deviceId: 'da2' }]);
    const config = loadConfig({ ...dep.env, PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: TEST_SECRET, CHECKPOINT_INTERVAL_MS: '200', LOG_LEVEL: 'silent' });
    node = await startNode(config, pino({ level: 'silent' }));
    admin = await node.auth.sign({ role: 'admin' });
  });
  after(async () => {
    await node?.close();
    await dep?.cleanup();
  });

  it('points produced by kcat reach a WebSocket subscriber and Redis', async () => {
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub', companies: ['A'] }, encode);
    await client.next((f) => f.t === 'snap');
    const now = Date.now();
    await kcatProduce(dep.topic('telemetry.raw'), [
      `da1\t${JSON.stringify({ deviceId: 'da1', ts: now - 3000, lat: 52.52, lon: 13.40, speed: 12 })}`,
      `da2\t${JSON.stringify({ deviceId: 'da2', ts: now - 3000, lat: 52.53, lon: 13.41 })}`,
      `da1\t${JSON.stringify({ deviceId: 'da1', ts: now - 2000, lat: 52.521, lon: 13.401, speed: 15 })}`,
    ]);
    const d = await client.next((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === 'va1' && u.lat === 52.521), 15_000);
    assert.ok(d);
    // Redis: the hash per vehicle and the GEO index, written by the next checkpoint.
    let hash: Record<string, string> = {};
    for (let i = 0; i < 100 && hash.lat !== '52.521'; i++) {
      hash = await dep.redis.redis.hgetall(`${dep.redis.prefix}v:va1`);
      if (hash.lat !== '52.521') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(hash.lat, '52.521');
    // va2's point may reach its vehicle's partition through telemetry.by-vehicle: its checkpoint can come later.
    let near: unknown[] = [];
    for (let i = 0; i < 100 && near.length < 2; i++) {
      near = await dep.redis.redis.geosearch(`${dep.redis.prefix}geo`, 'FROMLONLAT', 13.4, 52.52, 'BYRADIUS', 5, 'km');
      if (near.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([...near].sort(), ['va1', 'va2']);
    client.close();
  });

  it('a poison message in the middle of a partition does not stop it', async () => {
    const now = Date.now();
    await kcatProduce(dep.topic('telemetry.raw'), [
      `da1\t${JSON.stringify({ deviceId: 'da1', ts: now - 1500, lat: 52.6, lon: 13.5 })}`,
      'da1\t{"deviceId": "da1", this is not json',
      'da1\t\u00c1\u00c1\u00c1',
      `da1\t${JSON.stringify({ deviceId: 'da1', ts: 'not a time', lat: 52.6, lon: 13.5 })}`,
      `da1\t${JSON.stringify({ deviceId: 'da1', ts: now - 1000, lat: 52.7, lon: 13.6 })}`,
    ]);
    for (let i = 0; i < 150 && node.index.get('va1')?.lat !== 52.7; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(node.index.get('va1')?.lat, 52.7);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /fleetline_points_rejected_total\{reason="UNDECODABLE",source="log"[^}]*\} 2/);
    assert.match(metrics, /fleetline_points_rejected_total\{reason="BAD_TIMESTAMP",source="log"[^}]*\} 1/);
  });

  it('exports consumer lag per partition and shows the stores in /readyz', async () => {
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /fleetline_consumer_lag\{partition="0"/);
    const ready = (await (await fetch(`${node.url}/readyz`)).json()) as { components: Record<string, string> };
    assert.deepEqual({ bus: ready.components.bus, snapshots: ready.components.snapshots, history: ready.components.history },
      { bus: 'kafka', snapshots: 'tiered(redis+postgres)', history: 'postgres' });
  });
});
