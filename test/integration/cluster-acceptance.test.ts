/**
 * The cluster's acceptance run (#8): three engine processes of one deployment (real Kafka,
 * Redis, PostgreSQL) under a continuous simulated load, with a map client on every node. A fourth
 * node joins, the CLI drains one, one is killed with SIGKILL. After each step, once the load has
 * paused and the cluster settled, everything is compared with the produced points, not with what
 * the system says about itself: every vehicle's state on every node, every client's picture of
 * the fleet, the stored events and positions (none missing, none extra), and how many partitions
 * moved.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { ShardMap } from '../../cluster/shard-map.js';
import { EngineProcess } from '../support/engine-process.js';
import { TEST_SECRET, testToken } from '../support/engine.js';
import { LiveFleetView } from '../support/live-fleet-view.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';
import { ARRIVAL_STAMPED, expectedEvents, expectedViews, SimulatedFleet } from '../support/simulated-fleet.js';
import { settledHistoryMatches } from '../support/stored-history.js';

const PARTITIONS = 12;
const VEHICLES = 40;
const SPEED_LIMIT = 60;
const BBOX = [13.0, 52.0, 14.0, 53.0] as const;
/** Generous: a bounded wait fails only when something is truly wrong. */
const SETTLE_MS = 60_000;
const run = promisify(execFile);

const vehicles = Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` }));
const vehicleOfDevice = (deviceId: string) => ({ id: `veh-${deviceId.slice(4)}`, company: 'A', speedLimit: SPEED_LIMIT });
const vehicleOf = (p: TelemetryPoint) => vehicleOfDevice(p.deviceId).id;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = SETTLE_MS, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail() ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What one uninterrupted actor's view says of each vehicle after every accepted point (set by
 * pauseAndCheck): `moving` follows the motion rules (distance from the last stop, time), not
 * one point's speed.
 */
let uninterrupted = new Map<string, VehicleView>();

/** The fields the last point determines, as a vehicle view must show them. */
function wantedView(p: TelemetryPoint): Partial<VehicleView> {
  const moving = uninterrupted.get(vehicleOfDevice(p.deviceId).id)?.moving;
  return { lat: p.lat, lon: p.lon, ts: p.ts, speed: p.speed, course: p.course, ignition: p.ignition, fuel: p.fuel, moving };
}

/** Where `got` differs from the last point of each vehicle in `scope` (empty: identical). */
function differences(got: Map<string, Partial<VehicleView>>, last: Map<string, TelemetryPoint>, scope: readonly string[]): string[] {
  const out: string[] = [];
  for (const deviceId of scope) {
    const id = vehicleOfDevice(deviceId).id;
    const p = last.get(deviceId) as TelemetryPoint;
    const v = got.get(id);
    if (!v) {
      out.push(`${id} missing`);
      continue;
    }
    for (const [k, want] of Object.entries(wantedView(p))) {
      const have = v[k as keyof VehicleView];
      if (have !== want) out.push(`${id}.${k}: ${JSON.stringify(have)} ≠ ${JSON.stringify(want)}`);
    }
  }
  return out;
}

const owners = (map: ShardMap) => new Map(map.partitions.map((p) => [p.partition, p.owner]));
function moves(before: ShardMap, after: ShardMap): { partition: number; from: string | null; to: string | null }[] {
  const was = owners(before);
  return after.partitions.filter((p) => was.get(p.partition) !== p.owner).map((p) => ({ partition: p.partition, from: was.get(p.partition) ?? null, to: p.owner }));
}

describe('#8 cluster acceptance: three nodes under load; add a node, drain one, kill -9 one', { timeout: 400_000 }, () => {
  let dep: RealDeployment;
  let fleet: SimulatedFleet;
  let adminToken: string;
  let readerToken: string;
  const nodes = new Map<string, EngineProcess>();
  /** One map client per node, subscribed to the whole fleet by bbox. */
  const views = new Map<string, LiveFleetView>();
  const live = () => [...nodes.values()].filter((n) => n.running);
  const liveIds = () => live().map((n) => n.nodeId).sort();
  const node = (id: string) => nodes.get(id) as EngineProcess;
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  const startNode = async (nodeId: string) => {
    const n = new EngineProcess({ ...dep.env, NODE_ID: nodeId, CHECKPOINT_INTERVAL_MS: '250', LOG_LEVEL: 'info' });
    nodes.set(nodeId, n);
    await n.start();
    return n;
  };
  /** The first tick each client is sure to see every event of (ticks started after it subscribed). */
  const eventsFrom = new Map<LiveFleetView, number>();
  const subscribe = async (nodeId: string, sub: Parameters<typeof LiveFleetView.subscribe>[2], label: string) => {
    const v = await LiveFleetView.subscribe(node(nodeId).url, readerToken, sub, label);
    eventsFrom.set(v, fleet.ticks + 1);
    return v;
  };
  const watchFleet = async (nodeId: string) => {
    views.set(nodeId, await subscribe(nodeId, { bbox: [...BBOX] }, nodeId));
  };
  const cli = async (args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, ['bin/fleetline.mjs', ...args], {
      env: { ...process.env, KAFKA_BROKERS: dep.env.KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: dep.env.KAFKA_TOPIC_PREFIX, JWT_SECRET: TEST_SECRET },
      timeout: 120_000,
    });
    return stdout;
  };
  const adminGet = async <T>(n: EngineProcess, path: string): Promise<T> => {
    const res = await fetch(`${n.url}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200, `${n.nodeId} ${path}`);
    return (await res.json()) as T;
  };
  const bboxRead = async (n: EngineProcess): Promise<Map<string, VehicleView>> => {
    const res = await fetch(`${n.url}/v1/vehicles?bbox=${BBOX.join(',')}`, { headers: { authorization: `Bearer ${readerToken}` } });
    assert.equal(res.status, 200);
    return new Map(((await res.json()) as { vehicles: VehicleView[] }).vehicles.map((v) => [v.id, v]));
  };

  /** The group's map once it is stable with exactly the live nodes as members and every partition owned. */
  const settledMap = async (): Promise<ShardMap> => {
    let map: ShardMap | null = null;
    const want = liveIds();
    await waitFor(`the group to settle on ${want.join(', ')}`, async () => {
      map = await adminGet<ShardMap>(live()[0], '/v1/admin/cluster');
      return map.state === 'Stable' && JSON.stringify(map.members.map((m) => m.nodeId).sort()) === JSON.stringify(want)
        && map.partitions.every((p) => p.owner !== null && want.includes(p.owner));
    }, SETTLE_MS, () => JSON.stringify(map));
    return map as unknown as ShardMap;
  };

  /**
   * Pauses the load, waits until every live node and every open client shows each vehicle at its
   * last accepted point, then compares everything exactly with the points.
   */
  const pauseAndCheck = async (step: string, extra: LiveFleetView[] = []) => {
    await fleet.pause();
    uninterrupted = expectedViews(fleet.accepted, vehicleOfDevice);
    const devices = fleet.devices;
    const clients = [...views.values(), ...extra];
    const scopeOf = (v: LiveFleetView) => (extra.includes(v) ? devices.filter((d) => watched.has(vehicleOfDevice(d).id)) : devices);
    let lastDiff: string[] = [];
    await waitFor(`${step}: every node's state and every client's picture at the last points`, async () => {
      for (const n of live()) {
        lastDiff = differences(await bboxRead(n), fleet.last, devices).map((d) => `GET on ${n.nodeId}: ${d}`);
        if (lastDiff.length > 0) return false;
      }
      for (const c of clients) {
        assert.ok(c.open, `${step}: the client on ${c.label} is still connected (closed ${c.client.closeCode})`);
        lastDiff = differences(c.current(), fleet.last, scopeOf(c)).map((d) => `client on ${c.label}: ${d}`);
        if (lastDiff.length > 0) return false;
      }
      return true;
    }, SETTLE_MS, () => `${lastDiff.length} differences, first ${lastDiff.slice(0, 5).join('; ')}`);

    // The whole fleet, exactly: the bbox read and each vehicle's own read on every node.
    for (const n of live()) {
      const got = await bboxRead(n);
      assert.equal(got.size, VEHICLES, `GET /v1/vehicles?bbox= on ${n.nodeId} returns the whole fleet`);
      assert.deepEqual(differences(got, fleet.last, devices), [], `${step}: GET /v1/vehicles?bbox= on ${n.nodeId}`);
      for (const deviceId of [devices[0], devices[VEHICLES >> 1], devices[VEHICLES - 1]]) {
        const one = await fetch(`${n.url}/v1/vehicles/${vehicleOfDevice(deviceId).id}`, { headers: { authorization: `Bearer ${readerToken}` } });
        assert.equal(one.status, 200);
        const v = (await one.json()) as VehicleView;
        assert.deepEqual(differences(new Map([[v.id, v]]), fleet.last, [deviceId]), [], `${step}: GET /v1/vehicles/:id on ${n.nodeId}`);
      }
    }
    // A bbox around part of the fleet: every node returns exactly the vehicles whose last point lies in it.
    const lats = [...fleet.last.values()].map((p) => p.lat).sort((a, b) => a - b);
    const part = [13.0, 52.0, 14.0, (lats[(VEHICLES >> 1) - 1] + lats[VEHICLES >> 1]) / 2];
    const inPart = [...fleet.last.values()].filter((p) => p.lat <= part[3]).map((p) => vehicleOfDevice(p.deviceId).id).sort();
    for (const n of live()) {
      const res = await fetch(`${n.url}/v1/vehicles?bbox=${part.join(',')}`, { headers: { authorization: `Bearer ${readerToken}` } });
      const ids = ((await res.json()) as { vehicles: VehicleView[] }).vehicles.map((v) => v.id).sort();
      assert.deepEqual(ids, inPart, `${step}: GET /v1/vehicles?bbox=${part.join(',')} on ${n.nodeId}`);
    }
    for (const c of clients) assert.equal(c.current().size, scopeOf(c).length, `${step}: the client on ${c.label} holds exactly its scope`);
    const wantEvents = expectedEvents(fleet.accepted, vehicleOfDevice);

    // Events are never coalesced away: each client gets every event of its scope from the points
    // sent after it subscribed, once, and none that the points do not imply.
    for (const c of clients) {
      const inScope = new Set(scopeOf(c).map((d) => vehicleOfDevice(d).id));
      const required = wantEvents.filter((e) => inScope.has(e.vehicleId) && fleet.tickOf(e.ts) >= (eventsFrom.get(c) as number)).map((e) => e.id);
      let missing: string[] = [];
      await waitFor(`${step}: the client on ${c.label} to receive every event of its scope`, () => {
        c.current();
        missing = required.filter((id) => !c.events.has(id));
        return missing.length === 0;
      }, SETTLE_MS, () => `${missing.length} of ${required.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
      assert.deepEqual(c.regressions, [], `${step}: the client on ${c.label} never saw a vehicle go back in time`);
      const allowed = new Set(wantEvents.filter((e) => inScope.has(e.vehicleId)).map((e) => e.id));
      const foreign = [...c.events.keys()].filter((id) => !allowed.has(id) && !ARRIVAL_STAMPED.has(id.split(':')[1]));
      assert.deepEqual(foreign, [], `${step}: the client on ${c.label} received only events the points imply`);
      // A new owner re-applies the points since the last checkpoint (a crash, or a join that
      // raced the old owner's hand-off): each event still reaches a client once.
      const repeated = [...c.events].filter(([id, n]) => n > 1 && !ARRIVAL_STAMPED.has(id.split(':')[1])).map(([id, n]) => `${id} ×${n}`);
      assert.deepEqual(repeated, [], `${step}: the client on ${c.label} received each event once`);
    }
    const stored = await settledHistoryMatches(dep, fleet.accepted, wantEvents, vehicleOf, SETTLE_MS);
    assert.equal(stored.positions, fleet.accepted.length, `${step}: one stored position per accepted point`);
    console.log(`# ${step} at ${elapsed()}: ${live().length} nodes, ${fleet.ticks} ticks, ${fleet.accepted.length} points, ${stored.events} events; state, clients and history exact`);
  };
  /** Vehicles the kill -9 step watches from another node. */
  const watched = new Set<string>();
  /** Lets the load run for `ticks` more accepted ticks. */
  const runTicks = async (ticks: number) => {
    const until = fleet.ticks + ticks;
    await waitFor(`${ticks} more ticks of load`, () => {
      fleet.assertHealthy();
      return fleet.ticks >= until;
    });
  };

  before(async () => {
    dep = await createRealDeployment(PARTITIONS);
    await seedReference(dep.db, [{ id: 'A' }], vehicles);
    await dep.db.pool.query('UPDATE vehicles SET speed_limit = $1', [SPEED_LIMIT]);
    adminToken = await testToken({ role: 'admin', sub: 'cluster-acceptance' });
    readerToken = await testToken({ companies: ['A'] });
    fleet = new SimulatedFleet(vehicles.map((v) => v.deviceId), () => live().filter((n) => n.ready && !leaving.has(n.nodeId)).map((n) => n.url), Date.now() - 3_600_000);
  });
  /** Nodes about to leave: the load posts elsewhere (a point posted to a node that dies unanswered is unknowable). */
  const leaving = new Set<string>();
  after(async () => {
    await fleet?.pause().catch(() => {});
    for (const v of views.values()) v.client.ws.terminate();
    for (const n of nodes.values()) await n.kill9();
    await dep?.cleanup();
  });

  it('#8 three nodes under load with a client on each: every node and every client holds the whole fleet at its last points; events and positions exact', async () => {
    await startNode('node-1');
    await Promise.all([startNode('node-2'), startNode('node-3')]);
    await settledMap();
    for (const id of liveIds()) await watchFleet(id);
    fleet.resume();
    await runTicks(6);
    await pauseAndCheck('three nodes');
  });

  it('#8 a fourth node joins under load: at most P/N + 10 % of P partitions move; state, clients, events and positions exact', async () => {
    const before = await settledMap();
    fleet.resume();
    await runTicks(2);
    await startNode('node-4');
    await watchFleet('node-4');
    const afterMap = await settledMap();
    await runTicks(4);
    await pauseAndCheck('node-4 added');
    const moved = moves(before, afterMap);
    const bound = PARTITIONS / 4 + 0.1 * PARTITIONS;
    console.log(`# add: ${moved.length} partitions moved (ideal ${PARTITIONS / 4}, bound ${bound}): ${JSON.stringify(moved)}`);
    assert.ok(moved.length <= bound, `${moved.length} partitions moved for the add; bound ${bound}`);
    assert.ok(afterMap.partitions.some((p) => p.owner === 'node-4'), 'the new node owns partitions');
    // Equal weights: balance never needs a move between two nodes that both stay.
    assert.deepEqual(moved.filter((m) => m.to !== 'node-4'), [], 'every partition that moved went to the new node');
  });

  it('#8 the CLI drains a node under load: it exits 0, the CLI prints the new map, at most P/N + 10 % of P partitions move; state, clients, events and positions exact', async () => {
    const before = await settledMap();
    leaving.add('node-2');
    fleet.resume();
    await runTicks(2);
    const printed = JSON.parse(await cli(['cluster', 'drain', 'node-2', '--json'])) as ShardMap;
    assert.equal(await node('node-2').exited(SETTLE_MS), 0, 'the drained node exits 0');
    assert.deepEqual(printed.members.map((m) => m.nodeId).sort(), ['node-1', 'node-3', 'node-4'], 'the CLI shows the map without the drained node');
    assert.ok(printed.partitions.every((p) => p.owner !== null && p.owner !== 'node-2'));
    const drainedClient = views.get('node-2') as LiveFleetView;
    views.delete('node-2');
    await waitFor('the drained node\'s client to be closed', () => !drainedClient.open);
    const afterMap = await settledMap();
    await runTicks(4);
    await pauseAndCheck('node-2 drained');
    const moved = moves(before, afterMap);
    const bound = PARTITIONS / 4 + 0.1 * PARTITIONS;
    console.log(`# drain: ${moved.length} partitions moved (ideal ${PARTITIONS / 4}, bound ${bound}); drained node's client closed ${drainedClient.client.closeCode}: ${JSON.stringify(moved)}`);
    assert.ok(moved.length <= bound, `${moved.length} partitions moved for the drain; bound ${bound}`);
    assert.deepEqual(moves(printed, afterMap), [], 'the map the CLI printed is the settled one');
    assert.deepEqual(moved.filter((m) => m.from !== 'node-2'), [], 'only the drained node\'s partitions moved');
  });

  it('#8 kill -9 of a node under load: a client on another node watching its vehicles keeps receiving them without resubscribing; state, clients, events and positions exact', async () => {
    await settledMap();
    const victim = 'node-3';
    // Where each vehicle's actor lives, as the node says (npx fleetline cluster locate).
    for (const v of vehicles) {
      const where = await adminGet<{ node?: string | null; devices: { node: string | null }[] }>(node('node-1'), `/v1/admin/locate/${v.id}`);
      if ((where.node ?? where.devices[0]?.node) === victim) watched.add(v.id);
    }
    assert.ok(watched.size > 0, `${victim} owns vehicles (${watched.size})`);
    const watcher = await subscribe('node-1', { vehicles: [...watched] }, `node-1 (watching ${victim}'s ${watched.size} vehicles)`);
    leaving.add(victim);
    fleet.resume();
    // Before the kill: deltas of the victim's vehicles reach the client on node-1.
    const tickBefore = fleet.ticks;
    await waitFor(`the client on node-1 to receive deltas of ${victim}'s vehicles`, () => {
      fleet.assertHealthy();
      return [...watcher.current().values()].some((v) => (v.ts ?? 0) >= fleet.point(0, tickBefore).ts);
    });
    await node(victim).kill9();
    const victimClient = views.get(victim) as LiveFleetView;
    views.delete(victim);
    await waitFor('the killed node\'s client to see its connection drop', () => !victimClient.open);
    const killedAtTick = fleet.ticks;
    await settledMap();
    await runTicks(4);
    await pauseAndCheck(`${victim} killed`, [watcher]);
    const got = watcher.current();
    for (const id of watched) {
      const i = Number(id.slice(4));
      assert.ok((got.get(id)?.ts ?? 0) > fleet.point(i, killedAtTick).ts - 1, `${id}: the watcher has points produced after the kill`);
    }
    assert.equal(watcher.client.frames.filter((f) => f.t === 'snap').length, 1, 'the watcher never resubscribed');
    watcher.close();
    for (const v of views.values()) v.client.assertSeqContinuity();
  });
});
