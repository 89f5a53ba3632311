import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, testToken } from '../support/engine.js';

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('passivation: memory follows the active fleet', () => {
  const nodes: FleetlineNode[] = [];
  after(async () => { for (const n of nodes) await n.close(); });

  it('an idle vehicle\'s actor stops, it stays on the map, and its next point continues from its stored state', async () => {
    const node = await startTestNode({ PASSIVATE_AFTER_S: '1', CHECKPOINT_INTERVAL_MS: '100' });
    nodes.push(node);
    const headers = await adminHeaders();
    const t0 = Date.now() - 30_000;
    const post = async (deviceId: string, ts: number, lat: number, extra: Record<string, number> = {}) => assert.equal((await postJson(`${node.url}/v1/telemetry`, { deviceId, ts, lat, lon: 13.4, speed: 30, ...extra }, headers)).status, 202);
    // The device reports its odometer once; after that the engine adds distances to it (1.1 km per
    // 10 s: fast, but not a jump the IMPOSSIBLE_JUMP filter drops).
    await post('da1', t0, 52.50, { odometer: 100 });
    await post('da1', t0 + 10_000, 52.51);
    await post('da2', t0, 48.1);
    await waitFor('two resident actors', () => node.supervisor.actors === 2 && node.index.get('va1')?.lat === 52.51);
    const odometer = node.index.get('va1')?.odometer ?? 0;
    assert.ok(odometer > 101, `odometer after two points: ${odometer}`);

    await waitFor('both idle vehicles passivated', () => node.supervisor.actors === 0);
    const reader = await testToken({ companies: ['A'] });
    const res = await fetch(`${node.url}/v1/vehicles/va1`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(res.status, 200, 'a passivated vehicle is still on the map');

    await post('da1', t0 + 20_000, 52.52);
    await waitFor('va1 applied again', () => node.index.get('va1')?.lat === 52.52);
    assert.equal(node.supervisor.actors, 1, 'only the vehicle that moved has an actor');
    const after = node.index.get('va1')?.odometer ?? 0;
    assert.ok(after > odometer + 1, `the odometer continues from the stored state (${odometer} → ${after}), it does not start over`);
    // A point older than the stored last one is still recognised as such: the state came back.
    await post('da1', t0 + 500, 52.0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(node.index.get('va1')?.lat, 52.52);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /fleetline_actor_passivations_total\{what="passivated"[^}]*\} [2-9]/);
    assert.match(metrics, /fleetline_actor_passivations_total\{what="reactivated"[^}]*\} [1-9]/);
  });

  it('above MAX_RESIDENT_ACTORS the longest idle vehicles are passivated first, idle or not', async () => {
    const node = await startTestNode({ MAX_RESIDENT_ACTORS: '1', PASSIVATE_AFTER_S: '0', CHECKPOINT_INTERVAL_MS: '100', TELEMETRY_PARTITIONS: '1' });
    nodes.push(node);
    const headers = await adminHeaders();
    const t0 = Date.now() - 30_000;
    assert.equal((await postJson(`${node.url}/v1/telemetry`, [{ deviceId: 'da2', ts: t0, lat: 52.1, lon: 13.4 }], headers)).status, 202);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await postJson(`${node.url}/v1/telemetry`, [{ deviceId: 'da1', ts: t0, lat: 52.2, lon: 13.4 }, { deviceId: 'db1', ts: t0, lat: 52.3, lon: 13.4 }], headers)).status, 202);
    await waitFor('all three applied', () => ['va1', 'va2', 'vb1'].every((id) => node.index.get(id) !== undefined));
    await waitFor('the node back at its cap', () => node.supervisor.actors <= 1);
    assert.equal(node.index.size, 3, 'every vehicle stays on the map');
  });
});
