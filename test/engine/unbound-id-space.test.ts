import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { parseFleet } from '../../adapters/embedded/file-reference-source.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient, testFleet, testToken } from '../support/engine.js';

describe('#8 unbound devices and bound vehicles never share an id space', () => {
  let node: FleetlineNode;
  const now = Date.now();
  before(async () => {
    node = await startTestNode({ ACCEPT_UNBOUND_DEVICES: 'true' });
  });
  after(async () => node.close());

  it("#8 an unbound device named like company B's vehicle vb1 does not reach B's client, and vb1 is unchanged", async () => {
    const placed = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'db1', ts: now - 9000, lat: 48.1, lon: 11.5 }, await adminHeaders());
    assert.equal(placed.body.accepted, 1);
    const clientB = await StreamClient.connect(node.url, await testToken({ companies: ['B'] }));
    try {
      clientB.send({ t: 'sub', vehicles: ['vb1'] }, encode);
      const snap = await clientB.next((f) => f.t === 'snap' && (f.vehicles as unknown[]).length === 1, 10_000);
      const from = clientB.frames.length;

      const attack = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'vb1', ts: now - 1000, lat: 1.23, lon: 4.56 }, await adminHeaders());
      assert.deepEqual(attack.body, { accepted: 1, rejected: [] }, 'accepted as an unbound device of its own');
      // A later point of the real device flows to B after it: by then the attack's would have too.
      await postJson(`${node.url}/v1/telemetry`, { deviceId: 'db1', ts: now - 500, lat: 48.1005, lon: 11.5, speed: 40 }, await adminHeaders());
      await clientB.next((f) => f.t === 'd' && (f.u as { id: string; lat?: number }[]).some((u) => u.id === 'vb1' && u.lat === 48.1005), 10_000, from);
      await new Promise((r) => setTimeout(r, 100));
      for (const f of clientB.frames) {
        for (const v of (f.vehicles ?? f.u ?? []) as { id: string; lat?: number }[]) {
          assert.notEqual(v.lat, 1.23, `B received the foreign position in ${f.t}`);
          assert.ok(v.id === 'vb1', `B received ${v.id}`);
        }
      }
      // The unbound device lives under its own id, of no company (admin only).
      let view: { id: string; company: unknown; lat: number } | undefined;
      for (let i = 0; i < 200 && view === undefined; i++) {
        const res = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent('~dev/vb1')}`, { headers: await adminHeaders() });
        if (res.status === 200) view = (await res.json()) as { id: string; company: unknown; lat: number };
        else await res.arrayBuffer().then(() => new Promise((r) => setTimeout(r, 25)));
      }
      assert.deepEqual(view && [view.id, view.company, view.lat], ['~dev/vb1', null, 1.23]);
      assert.equal((snap.vehicles as { lat: number }[])[0].lat, 48.1);
      const vb1 = (await (await fetch(`${node.url}/v1/vehicles/vb1`, { headers: await adminHeaders() })).json()) as { company: string; lat: number };
      assert.deepEqual([vb1.company, vb1.lat], ['B', 48.1005]);
    } finally {
      clientB.close();
    }
  });

  it('#8 reference data may not name a vehicle in the reserved ~ namespace (file, topic, directory)', async () => {
    assert.throws(() => parseFleet(JSON.stringify({ vehicles: [{ id: '~dev/x', companyId: 'A' }] }), 'fleet.json'), /reserved/);
    assert.throws(() => parseFleet(JSON.stringify({ devices: [{ deviceId: 'x', vehicleId: '~dev/y' }] }), 'fleet.json'), /reserved/);
    const directory = new FleetDirectory({ ...testFleet, vehicles: [...testFleet.vehicles, { id: '~dev/da9', companyId: 'A' }] }, { accept: true, limit: 10 });
    assert.equal(directory.stats.refused, 1);
    assert.deepEqual(directory.apply({ kind: 'device', id: 'da9', value: { deviceId: 'da9', vehicleId: '~dev/da1' } }), []);
    const route = directory.route('da9');
    assert.ok(route.ok && route.profile.vehicleId === '~dev/da9' && route.profile.company === null);

    // Through the running node's fleet.reference topic: the binding is skipped, the device stays unbound.
    await node.infrastructure.bus.publish(Topics.fleetReference, [
      { key: 'vehicle:~dev/evil', value: Buffer.from(JSON.stringify({ companyId: 'B' })) },
      { key: 'device:evil', value: Buffer.from(JSON.stringify({ vehicleId: '~dev/evil' })) },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    await postJson(`${node.url}/v1/telemetry`, { deviceId: 'evil', ts: now - 1000, lat: 3, lon: 3 }, await adminHeaders());
    let company: unknown = 'unset';
    for (let i = 0; i < 200 && company === 'unset'; i++) {
      const res = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent('~dev/evil')}`, { headers: await adminHeaders() });
      if (res.status === 200) company = ((await res.json()) as { company: unknown }).company;
      else await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(company, null, 'the device got no company from a reserved-id binding');
  });
});
