import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { pino } from 'pino';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { EngineProcess } from '../support/engine-process.js';
import { adminHeaders, StreamClient, TEST_SECRET, testToken } from '../support/engine.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';

/**
 * What became of one POST: acknowledged, or refused the way a stopping node may refuse: 503
 * NOT_READY while it drains, a refused connection once its port is closed, or a connection
 * cut without an answer (one that raced with the port closing: it sat in the accept queue, or
 * its request was still arriving, when the node closed every connection at the end).
 */
type Outcome = 'acked' | 'NOT_READY' | 'ECONNREFUSED' | 'CUT';

/**
 * POSTs points on a connection of its own (no keep-alive: a pooled socket the server closed
 * would make the answer ambiguous). Any other answer fails the test.
 */
function postPoints(baseUrl: string, points: TelemetryPoint[], headers: Record<string, string>): Promise<Outcome> {
  const url = new URL('/v1/telemetry', baseUrl);
  const body = JSON.stringify(points);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        const code = (JSON.parse(text || '{}') as { error?: { code?: string } }).error?.code;
        if (res.statusCode === 202) resolve('acked');
        else if (res.statusCode === 503 && code === 'NOT_READY') resolve('NOT_READY');
        else reject(new Error(`POST answered ${res.statusCode}: ${text}`));
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') resolve('ECONNREFUSED');
      else if (e.code === 'ECONNRESET') resolve('CUT');
      else reject(e);
    });
    req.end(body);
  });
}

interface Post { readonly points: TelemetryPoint[]; readonly sentAfterStop: boolean; readonly outcome: Outcome }

/**
 * One device's poster: a point per POST with a rising ts, until the port refuses connections.
 * `stopped()` says whether the stop had begun when a POST was sent.
 */
async function postUntilRefused(baseUrl: string, deviceId: string, base: number, stopped: () => boolean, headers: Record<string, string>): Promise<Post[]> {
  const posts: Post[] = [];
  for (let i = 0; ; i++) {
    const points = [{ deviceId, ts: base + i * 1000, lat: 52.5 + i * 0.0001, lon: 13.4, speed: 20 }];
    const sentAfterStop = stopped();
    const outcome = await postPoints(baseUrl, points, headers);
    posts.push({ points, sentAfterStop, outcome });
    if (outcome === 'ECONNREFUSED') return posts;
    if (i > 100_000) throw new Error('the port never closed');
  }
}

/** Waits for every poster (none left running into the next test), then throws the first failure. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Every POST after the first refusal is refused too: intake, once stopped, stays stopped. */
function assertStaysStopped(posts: Post[]): void {
  const firstRefused = posts.findIndex((p) => p.outcome !== 'acked');
  assert.ok(firstRefused >= 0, 'some POST was refused');
  const ackedLater = posts.slice(firstRefused).filter((p) => p.outcome === 'acked');
  assert.equal(ackedLater.length, 0, `${ackedLater.length} POSTs acknowledged after an earlier one was refused`);
}

describe('start-up', () => {
  it('refuses to start without JWT_SECRET outside demo mode, saying why', async () => {
    const engine = new EngineProcess({ JWT_SECRET: '' });
    await assert.rejects(engine.start(20_000), /JWT_SECRET is required/);
  });
});

const DEVICES = ['dev-0', 'dev-1', 'dev-2', 'dev-3'];
/** The device of the SIGTERM test (its own, so the close() test's expectations stay its own). */
const SIGTERM_DEVICE = 'dev-9';
const vehicleOf = (deviceId: string) => `veh-${deviceId.slice(4)}`;

describe('#7.14 graceful shutdown stops intake before it stops the node (real Kafka, Redis, PostgreSQL)', () => {
  let dep: RealDeployment;
  const nodes: FleetlineNode[] = [];
  const start = async (): Promise<FleetlineNode> => {
    const config = loadConfig({
      ...dep.env, PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: TEST_SECRET, CHECKPOINT_INTERVAL_MS: '200',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ID: 'shutdown-test',
    });
    const node = await startNode(config, pino({ level: config.logLevel }));
    nodes.push(node);
    return node;
  };
  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }], [...DEVICES, SIGTERM_DEVICE].map((d) => ({ id: vehicleOf(d), companyId: 'A', deviceId: d })));
  });
  after(async () => {
    for (const n of nodes) await n.close();
    await dep?.cleanup();
  });

  it('#7.14 SIGTERM stops intake (no POST acknowledged once the node says it is shutting down; 503 NOT_READY, then connection refused), closes WebSockets with 4503 and exits 0', async () => {
    const engine = new EngineProcess({ ...dep.env, CHECKPOINT_INTERVAL_MS: '200', NODE_ID: 'sigterm-test' });
    try {
      await engine.start();
      const token = await testToken({ role: 'admin', sub: 'shutdown-test' });
      const client = await StreamClient.connect(engine.url, token);
      await client.next((f) => f.t === 'ready');
      const headers = await adminHeaders();
      const base = Date.now() - 600_000;
      assert.equal(await postPoints(engine.url, [{ deviceId: SIGTERM_DEVICE, ts: base - 1000, lat: 52.5, lon: 13.4 }], headers), 'acked');
      // The node logs "shutting down" in the same tick in which it stops intake: a POST sent
      // after this process read that line reaches a node that must refuse it.
      const stopping = () => engine.logs.some((l) => l.includes('"shutting down"'));
      const posting = postUntilRefused(engine.url, SIGTERM_DEVICE, base, stopping, headers);
      await new Promise((r) => setTimeout(r, 200));
      const code = await engine.stop();
      const posts = await posting;
      const after = posts.filter((p) => p.sentAfterStop);
      console.log(`# SIGTERM: ${posts.length} POSTs; ${after.length} sent after "shutting down": ${[...new Set(after.map((p) => p.outcome))].join(', ')}`);
      assert.equal(code, 0);
      assert.equal(await client.closed(), 4503);
      assertStaysStopped(posts);
      assert.deepEqual(posts.filter((p) => p.sentAfterStop && p.outcome === 'acked'), [], 'no POST acknowledged once the node said it was shutting down');
      assert.equal(posts.at(-1)?.outcome, 'ECONNREFUSED');
      assert.equal(await postPoints(engine.url, [{ deviceId: SIGTERM_DEVICE, ts: Date.now() - 1000, lat: 52.5, lon: 13.4 }], headers), 'ECONNREFUSED');
      assert.ok(engine.logs.some((l) => l.includes('"fleetline node stopped"')));
    } finally {
      await engine.kill9();
    }
  });

  it('#7.14 after close() begins no POST is acknowledged or applied, and every acknowledged point survives into the next node', async () => {
    const node = await start();
    const headers = await adminHeaders();
    const base = Date.now() - 600_000;
    let stopped = false;
    const posting = DEVICES.map((d) => postUntilRefused(node.url, d, base, () => stopped, headers));
    // Let every poster get points acknowledged, then stop the node while they keep posting.
    await new Promise((r) => setTimeout(r, 1500));
    stopped = true;
    await node.close();
    const byDevice = await settleAll(posting);

    const all = byDevice.flat();
    const count = (f: (p: Post) => boolean) => all.filter(f).length;
    console.log(`# ${count((p) => p.outcome === 'acked')} POSTs acknowledged (${count((p) => p.outcome === 'acked' && p.sentAfterStop)} sent after close() began), ` +
      `${count((p) => p.outcome === 'NOT_READY')} refused with 503 NOT_READY, ${count((p) => p.outcome === 'ECONNREFUSED')} with a refused connection, ` +
      `${count((p) => p.outcome === 'CUT')} cut unanswered (${count((p) => p.outcome === 'CUT' && !p.sentAfterStop)} of them sent before close())`);
    const ackedAfterStop = all.filter((p) => p.sentAfterStop && p.outcome === 'acked');
    assert.equal(ackedAfterStop.length, 0, `POSTs sent after close() began were acknowledged: ${JSON.stringify(ackedAfterStop.map((p) => p.points))}`);
    for (const posts of byDevice) {
      assert.ok(posts.some((p) => p.outcome === 'acked'), 'every poster had points acknowledged before the stop');
      assertStaysStopped(posts);
    }

    // The next node restores from the snapshots and replays the log: it must end at the last
    // acknowledged point of every device, never at a refused one.
    const next = await start();
    const lastAcked = new Map(byDevice.map((posts, i) => [vehicleOf(DEVICES[i]), posts.filter((p) => p.outcome === 'acked').at(-1)!.points[0]]));
    const deadline = Date.now() + 60_000;
    const settled = () => [...lastAcked].every(([id, p]) => next.index.get(id)?.ts === p.ts);
    while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const [id, p] of lastAcked) {
      const v = next.index.get(id);
      assert.equal(v?.ts, p.ts, `${id} ends at its last acknowledged point (ts ${p.ts}), not ${v?.ts}`);
      assert.equal(v?.lat, p.lat);
    }
    await next.close();

    // The history holds every acknowledged point and no refused one.
    const { rows } = await dep.db.pool.query<{ vehicle_id: string; ts: string }>('SELECT vehicle_id, round(extract(epoch FROM ts) * 1000)::text AS ts FROM positions');
    const stored = new Set(rows.map((r) => `${r.vehicle_id}@${r.ts}`));
    const key = (p: TelemetryPoint) => `${vehicleOf(p.deviceId)}@${p.ts}`;
    const missing = all.filter((p) => p.outcome === 'acked').flatMap((p) => p.points).filter((p) => !stored.has(key(p)));
    assert.deepEqual(missing, [], 'every acknowledged point is in the history');
    // A connection cut while its request was sent before the stop may or may not have been taken.
    const refused = all.filter((p) => p.outcome !== 'acked' && (p.outcome !== 'CUT' || p.sentAfterStop));
    const applied = refused.flatMap((p) => p.points).filter((p) => stored.has(key(p)));
    assert.deepEqual(applied, [], 'no refused point was applied');
  });
});
