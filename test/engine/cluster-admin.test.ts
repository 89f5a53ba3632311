import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { startTestNode, testToken } from '../support/engine.js';

describe('cluster admin routes: an admin token, and a node that is part of a cluster', () => {
  let node: FleetlineNode;
  before(async () => { node = await startTestNode(); });
  after(async () => node.close());

  const call = async (method: string, path: string, token?: string) => {
    const res = await fetch(`${node.url}${path}`, {
      method, headers: token ? { authorization: `Bearer ${token}`, 'content-type': 'application/json' } : {}, ...(method === 'POST' ? { body: '{"weight":2}' } : {}),
    });
    return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
  };
  const routes: [string, string][] = [['GET', '/v1/admin/cluster'], ['POST', '/v1/admin/weight'], ['POST', '/v1/admin/rebalance'], ['POST', '/v1/admin/drain'], ['GET', '/v1/admin/locate/va1']];

  it('no token → 401; a map-client or ingest token → 403; admin on a node without Kafka → 404 (no cluster to change)', async () => {
    const reader = await testToken({ companies: ['A'] });
    const ingest = await testToken({ role: 'ingest', companies: ['A'] });
    const admin = await testToken({ role: 'admin' });
    for (const [method, path] of routes) {
      assert.deepEqual(await call(method, path), { status: 401, code: 'UNAUTHORIZED' }, `${method} ${path}`);
      assert.equal((await call(method, path, reader)).status, 403, `${method} ${path} map client`);
      assert.equal((await call(method, path, ingest)).status, 403, `${method} ${path} ingest`);
      assert.deepEqual(await call(method, path, admin), { status: 404, code: 'NOT_FOUND' }, `${method} ${path} admin`);
    }
    assert.equal(node.cluster, null);
  });
});
