import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

describe('#7.3 a record nact cannot name an actor after does not stop its partition', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ ACCEPT_UNBOUND_DEVICES: 'true', TELEMETRY_PARTITIONS: '4' });
  });
  after(async () => {
    await node?.close();
  });

  it('#7.3 POST {"deviceId":"a:b"} then 100 devices: all of them appear, /readyz stays honest, shutdown completes', async () => {
    const headers = await adminHeaders();
    const ts = Date.now() - 5_000;
    const first = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'a:b', ts, lat: 52.5, lon: 13.4 }, headers);
    assert.equal(first.status, 202);
    const devices = Array.from({ length: 100 }, (_, i) => `after-${i}`);
    for (const deviceId of devices) {
      const res = await postJson(`${node.url}/v1/telemetry`, { deviceId, ts, lat: 52.5, lon: 13.4 }, headers);
      assert.equal(res.status, 202);
    }
    // Unbound devices may get ids of their own: count what the index holds instead of naming them.
    const visible = () => node.index.query({ grant: null, limit: 10_000 }).length;
    for (let i = 0; i < 300 && visible() < 101; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(visible(), 101, 'a:b and all 100 devices after it are applied');
    const ready = await fetch(`${node.url}/readyz`);
    assert.equal(ready.status, 200);
    await node.close();
    assert.equal(node.supervisor.actors, 0, 'graceful shutdown released every partition');
  });
});
