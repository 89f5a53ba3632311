import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { adminHeaders, postJson, startTestNode, StreamClient } from '../support/engine.js';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('reference data changes on fleet.reference reach the actors', () => {
  let node: FleetlineNode;
  let admin: string;
  const now = Date.now();
  before(async () => {
    node = await startTestNode();
    admin = await node.auth.sign({ role: 'admin' });
    await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'da1', ts: now - 5000, lat: 52.5, lon: 13.4 },
      { deviceId: 'da2', ts: now - 5000, lat: 52.5, lon: 13.41 },
      { deviceId: 'db1', ts: now - 5000, lat: 52.5, lon: 13.42 },
    ], await adminHeaders());
    for (let i = 0; i < 100 && node.index.size < 3; i++) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => node.close());

  it('a renamed vehicle reaches subscribers as a delta', async () => {
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub' }, encode);
    await client.next((f) => f.t === 'snap');
    await node.infrastructure.bus.publish(Topics.fleetReference, [{ key: 'vehicle:va2', value: json({ companyId: 'A', name: 'Renamed', plate: 'X-1' }) }]);
    const d = await client.next((f) => f.t === 'd' && (f.u as { id: string; name?: string }[]).some((u) => u.id === 'va2' && u.name === 'Renamed'));
    assert.ok(d);
    client.close();
  });

  it('a deactivated company disappears from every map and its points are refused', async () => {
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub' }, encode);
    await client.next((f) => f.t === 'snap');
    await node.infrastructure.bus.publish(Topics.fleetReference, [{ key: 'company:A', value: json({ name: 'Company A', active: false }) }]);
    const gone = await client.next((f) => f.t === 'gone');
    assert.deepEqual((gone.ids as string[]).sort(), ['va1', 'va2']);
    const list = (await (await fetch(`${node.url}/v1/vehicles`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { vehicles: { id: string }[] };
    assert.deepEqual(list.vehicles.map((v) => v.id), ['vb1']);
    // Intake knows the reference data too: the point is refused at the door, not after the log.
    const refused = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 1000, lat: 52.6, lon: 13.4 }, await adminHeaders());
    assert.deepEqual(refused.body.rejected, [{ index: 0, reason: 'INACTIVE_COMPANY' }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(node.index.get('va1'), undefined);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /fleetline_points_rejected_total\{reason="INACTIVE_COMPANY",source="http"/);
    client.close();
  });
});
