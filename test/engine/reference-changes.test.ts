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

  /**
   * Every way a client reaches live vehicles: the list (plain and by bbox, ids and company), the
   * vehicle by id, a subscription that saw them (gone) and one made afterwards (its snapshot).
   */
  const reads = (token: string) => {
    const get = async (path: string) => fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const listed = async (query: string) => ((await (await get(`/v1/vehicles${query}`)).json()) as { vehicles: { id: string }[] }).vehicles.map((v) => v.id).sort();
    return { get, listed };
  };

  /** Before: every endpoint below shows the vehicles (so the checks after can fail). */
  async function assertSeenEverywhere(companyId: string, ids: string[]): Promise<void> {
    for (const token of [admin, await node.auth.sign({ companies: [companyId] })]) {
      const { get, listed } = reads(token);
      for (const query of ['', '?bbox=13,52,14,53', `?ids=${ids.join(',')}`, `?company=${companyId}`]) {
        const seen = await listed(query);
        assert.ok(ids.every((id) => seen.includes(id)), `GET /v1/vehicles${query} lists ${ids.join(',')} before`);
      }
      for (const id of ids) assert.equal((await get(`/v1/vehicles/${id}`)).status, 200);
    }
  }

  async function assertGoneEverywhere(companyId: string, ids: string[], stay: string[], clients: StreamClient[]): Promise<void> {
    for (const client of clients) {
      const gone = await client.next((f) => f.t === 'gone');
      assert.deepEqual((gone.ids as string[]).sort(), ids, 'gone to a subscriber that saw them');
    }
    const scoped = await node.auth.sign({ companies: [companyId] });
    for (const token of [admin, scoped]) {
      const { get, listed } = reads(token);
      const visible = token === admin ? stay : [];
      assert.deepEqual(await listed(''), visible, 'GET /v1/vehicles');
      assert.deepEqual(await listed('?bbox=13,52,14,53'), visible, 'GET /v1/vehicles?bbox');
      assert.deepEqual(await listed(`?ids=${ids.join(',')}`), [], 'GET /v1/vehicles?ids');
      assert.deepEqual(await listed(`?company=${companyId}`), [], 'GET /v1/vehicles?company');
      for (const id of ids) assert.equal((await get(`/v1/vehicles/${id}`)).status, 404, `GET /v1/vehicles/${id}`);
    }
    const late = await StreamClient.connect(node.url, admin);
    late.send({ t: 'sub' }, encode);
    const snap = await late.next((f) => f.t === 'snap');
    assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id).sort(), stay, 'a snapshot made afterwards');
    late.close();
    for (const id of ids) assert.equal(node.index.get(id), undefined, `${id} left the index`);
  }

  it('#10 a deactivated company (fleet.reference) disappears from every endpoint and its points are refused', async () => {
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub' }, encode);
    await client.next((f) => f.t === 'snap');
    const scopedClient = await StreamClient.connect(node.url, await node.auth.sign({ companies: ['A'] }));
    scopedClient.send({ t: 'sub', ids: ['va1', 'va2'] }, encode);
    await scopedClient.next((f) => f.t === 'snap');
    await assertSeenEverywhere('A', ['va1', 'va2']);
    await node.infrastructure.bus.publish(Topics.fleetReference, [{ key: 'company:A', value: json({ name: 'Company A', active: false }) }]);
    await assertGoneEverywhere('A', ['va1', 'va2'], ['vb1'], [client, scopedClient]);
    // Intake knows the reference data too: the point is refused at the door, not after the log.
    const refused = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: now - 1000, lat: 52.6, lon: 13.4 }, await adminHeaders());
    assert.deepEqual(refused.body.rejected, [{ index: 0, reason: 'INACTIVE_COMPANY' }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(node.index.get('va1'), undefined);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /fleetline_points_rejected_total\{reason="INACTIVE_COMPANY",source="http"/);
    client.close();
    scopedClient.close();
  });

  it('#10 a company deactivated through the admin API (PUT /v1/admin/companies/:id) is gone from every endpoint', async () => {
    const client = await StreamClient.connect(node.url, admin);
    client.send({ t: 'sub' }, encode);
    const snap = await client.next((f) => f.t === 'snap');
    assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id), ['vb1']);
    await assertSeenEverywhere('B', ['vb1']);
    const res = await fetch(`${node.url}/v1/admin/companies/B`, {
      method: 'PUT', headers: { ...(await adminHeaders()), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Company B', active: false }),
    });
    assert.ok(res.status === 200 || res.status === 201, `PUT answered ${res.status}`);
    await assertGoneEverywhere('B', ['vb1'], [], [client]);
    client.close();
  });
});
