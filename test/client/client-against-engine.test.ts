import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { FleetlineClient, type ResumeOutcome, type ServerFrame, type VehicleEvent } from '../../packages/client/src/index.js';
import { adminHeaders, postJson, startTestNode, testFleet, testToken, writeFleetFile } from '../support/engine.js';

/**
 * @fleetline/client against a running engine (node + ws in Node 20): the local map it keeps
 * equals what the server holds, through subscription changes, filters, drops and reconnects.
 */

const fleet = {
  ...testFleet,
  vehicles: [...testFleet.vehicles, { id: 'va3', companyId: 'A', name: 'A three' }],
  devices: [...testFleet.devices, { deviceId: 'da3', vehicleId: 'va3' }],
  groups: [{ id: 'g-west', companyId: 'A', name: 'West', vehicleIds: ['va1', 'va3'] }],
};

/** ws, remembering every socket it opens so a test can cut one like a network failure. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 @fleetline/client against an engine (${transport})`, () => {
    let node: FleetlineNode;
    let headers: Record<string, string>;
    const t0 = Date.now() - 3_600_000;
    let clock = 0;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '20', FLEET_FILE: writeFleetFile(fleet) });
      headers = await adminHeaders();
      await post([
        { deviceId: 'da1', lat: 52.5, lon: 13.4 },
        { deviceId: 'da2', lat: 52.5, lon: 13.6 },
        { deviceId: 'da3', lat: 52.6, lon: 13.4 },
        { deviceId: 'db1', lat: 52.5, lon: 13.41 },
      ]);
      for (let i = 0; i < 500 && node.index.size < 4; i++) await new Promise((r) => setTimeout(r, 10));
    });
    after(async () => node.close());

    /** Posts points, each a minute after the last one posted. */
    async function post(points: Record<string, unknown>[]): Promise<void> {
      const stamped = points.map((p) => ({ ts: t0 + ++clock * 60_000, ...p }));
      const res = await postJson(`${node.url}/v1/telemetry`, stamped, headers);
      assert.equal(res.status, 202);
    }

    /** What GET /v1/vehicles answers for these ids: the server's state. */
    async function serverView(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
      const res = await fetch(`${node.url}/v1/vehicles?ids=${ids.join(',')}`, { headers });
      const body = (await res.json()) as { vehicles: Record<string, unknown>[] };
      return new Map(body.vehicles.map((v) => [v.id as string, v]));
    }

    function localPositions(client: FleetlineClient): Record<string, [number, number, number]> {
      return Object.fromEntries([...client.vehicles.values()].map((v) => [v.id, [v.lat, v.lon, v.ts]]));
    }
    async function serverPositions(ids: readonly string[]): Promise<Record<string, [number, number, number]>> {
      return Object.fromEntries([...(await serverView(ids)).values()].map((v) => [v.id as string, [v.lat as number, v.lon as number, v.ts as number]]));
    }

    async function newClient(opts: Partial<ConstructorParameters<typeof FleetlineClient>[0]> = {}): Promise<FleetlineClient> {
      const token = await testToken({ companies: ['A'] });
      return new FleetlineClient({ url: node.url, token, webSocket: TrackedWebSocket, reconnect: { minDelayMs: 20, maxDelayMs: 200 }, ...opts });
    }

    it('#9 connects, subscribes and keeps a Map of the vehicles in scope, merging deltas into it', async () => {
      const client = await newClient({ subscription: { companies: ['A'] } });
      try {
        await client.connect();
        assert.equal(client.state, 'live');
        assert.deepEqual(client.companies, ['A']);
        await until('the snapshot', () => client.vehicles.size === 3);
        assert.deepEqual([...client.vehicles.keys()].sort(), ['va1', 'va2', 'va3'], 'company B is not granted');
        const first = client.takeChanges();
        assert.deepEqual([...first.upserted].sort(), ['va1', 'va2', 'va3']);

        await post([{ deviceId: 'da1', lat: 52.51, lon: 13.41, speed: 40 }]);
        await until('the delta', () => client.vehicles.get('va1')?.lat === 52.51);
        const v = client.vehicles.get('va1');
        assert.equal(v?.name, 'A one', 'fields the delta did not carry are kept');
        assert.equal(v?.lon, 13.41);
        assert.deepEqual([...client.takeChanges().upserted], ['va1'], 'only the vehicle that changed is reported');
        assert.deepEqual(localPositions(client), await serverPositions(['va1', 'va2', 'va3']));
        assert.equal(client.stats.seqGaps, 0);
        assert.ok(client.stats.framesReceived >= 3);
        assert.notEqual(client.stats.latencyMs, null, 'the latency of a delta is measured');
      } finally {
        client.close();
      }
    });

    it('#9 changing the viewport and the filters replaces the subscription: what left is removed, what entered is added', async () => {
      const client = await newClient({ subscription: { bbox: [13.3, 52.45, 13.5, 52.55] } });
      const frames: ServerFrame[] = [];
      client.on('frame', (f) => frames.push(f));
      try {
        await client.connect();
        await until('the snapshot', () => frames.some((f) => f.t === 'snap'));
        assert.deepEqual([...client.vehicles.keys()].sort(), ['va1']);
        const snaps = frames.filter((f) => f.t === 'snap').length;

        client.setViewport([13.5, 52.45, 13.7, 52.55], 11);
        await until('va2 entering', () => client.vehicles.has('va2') && !client.vehicles.has('va1'));
        assert.deepEqual([...client.vehicles.keys()], ['va2']);
        assert.equal(frames.filter((f) => f.t === 'snap').length, snaps, 'a replacement sends the difference, not a new snapshot');

        client.setViewport(undefined);
        client.setFilter({ status: ['moving'] });
        await until('the moving filter', () => [...client.vehicles.keys()].sort().join() === 'va1');
        assert.equal(client.vehicles.get('va1')?.moving, true);

        client.updateSubscription({ filter: undefined, groups: ['g-west'] });
        await until('the group', () => [...client.vehicles.keys()].sort().join() === 'va1,va3');
        assert.equal(client.stats.seqGaps, 0);
      } finally {
        client.close();
      }
    });

    it('#9 events arrive as a stream (async iterator and listener), each once', async () => {
      const client = await newClient({ subscription: { vehicles: ['va2'] } });
      try {
        await client.connect();
        await until('the snapshot', () => client.vehicles.size === 1);
        const heard: VehicleEvent[] = [];
        client.on('event', (e) => heard.push(e));
        const iterator = client.events();
        await post([{ deviceId: 'da2', lat: 52.5, lon: 13.6, ignition: false }]);
        await post([{ deviceId: 'da2', lat: 52.5, lon: 13.6, ignition: true }]);
        const { value } = await iterator.next();
        assert.equal((value as VehicleEvent).type, 'ignition_on');
        assert.equal((value as VehicleEvent).vehicleId, 'va2');
        await until('the listener', () => heard.length >= 1);
        assert.equal(heard[0].id, (value as VehicleEvent).id);
        assert.equal(new Set(heard.map((e) => e.id)).size, heard.length, 'no event twice');
        client.close();
        assert.equal((await iterator.next()).done, true, 'the iterator ends with the client');
      } finally {
        client.close();
      }
    });

    it('#9 after a dropped connection it reconnects by itself and its map equals the server\'s again (resume, or its fallback)', async () => {
      const client = await newClient({ subscription: { companies: ['A'] } });
      const outcomes: ResumeOutcome[] = [];
      client.on('resume', (r) => outcomes.push(r));
      const states: string[] = [];
      client.on('state', (s) => states.push(s.state));
      try {
        await client.connect();
        await until('the snapshot', () => client.vehicles.size === 3);
        sockets.at(-1)?.terminate(); // the network fails: no close frame
        await until('the drop', () => client.state !== 'live');
        // moves while the client is away
        await post([{ deviceId: 'da1', lat: 52.52, lon: 13.42 }, { deviceId: 'da3', lat: 52.61, lon: 13.43 }]);
        await until('the reconnect', () => outcomes.length === 1, 15_000);
        const expected = await serverPositions(['va1', 'va2', 'va3']);
        await until('the map to catch up', () => JSON.stringify(localPositions(client)) === JSON.stringify(expected));
        assert.ok(states.includes('reconnecting'), states.join());
        assert.equal(client.stats.reconnects, 1);
        // Today's engine names no session in ready (NO_SESSION); one with sessions resumes (continued).
        if (outcomes[0].outcome === 'resubscribed') assert.ok(['NO_SESSION', 'UNSUPPORTED', 'UNKNOWN_SESSION'].includes(outcomes[0].reason ?? ''), outcomes[0].reason);
        assert.equal(client.stats.seqGaps, 0);
      } finally {
        client.close();
      }
    });

    it('#9 a session that cannot be resumed (unknown, or a server without resume) falls back to subscribing afresh', async () => {
      const client = await newClient({ subscription: { companies: ['A'] }, resume: { session: 'AAAAAAAAAAAAAAAAAAAAAA', seq: 41 } });
      const outcomes: ResumeOutcome[] = [];
      const errors: string[] = [];
      client.on('resume', (r) => outcomes.push(r));
      client.on('error', (e) => errors.push(e.code));
      try {
        await client.connect();
        await until('the fallback', () => outcomes.length === 1);
        assert.equal(outcomes[0].outcome, 'resubscribed');
        // Today's engine answers the unknown frame BAD_FRAME; one with sessions answers UNKNOWN_SESSION.
        assert.ok(['UNSUPPORTED', 'UNKNOWN_SESSION'].includes(outcomes[0].reason ?? ''), outcomes[0].reason);
        await until('the snapshot', () => client.vehicles.size === 3);
        assert.deepEqual(errors, [], 'the refused resume is not reported as an error');
        assert.equal(client.stats.seqGaps, 0, 'seq starts again at 1 on the fresh stream');
      } finally {
        client.close();
      }
    });

    it('#9 a token function is called for every connection and renews the token before it expires, on the same stream', async () => {
      let calls = 0;
      const client = await newClient({
        token: async () => {
          calls++;
          return testToken({ companies: ['A'] }, '1h');
        },
        renewBeforeMs: 3_600_000 - 1500, // renew about 1.5 s after connecting
        subscription: { companies: ['A'] },
      });
      const readies: ServerFrame[] = [];
      client.on('frame', (f) => f.t === 'ready' && readies.push(f));
      try {
        await client.connect();
        await until('the renewal', () => readies.length === 2, 15_000);
        assert.equal(calls, 2);
        assert.equal(client.stats.reconnects, 0, 'renewed without reconnecting');
        assert.equal(client.state, 'live');
      } finally {
        client.close();
      }
    });

    it('#9 a refused static token closes the client for good (4003) and connect() rejects', async () => {
      const client = new FleetlineClient({ url: node.url, token: 'not-a-jwt', webSocket: TrackedWebSocket, reconnect: { minDelayMs: 20 } });
      const closes: (number | undefined)[] = [];
      client.on('state', (s) => s.state === 'closed' && closes.push(s.closeCode));
      await assert.rejects(client.connect(), /4003/);
      assert.equal(client.state, 'closed');
      assert.deepEqual(closes, [4003]);
    });
  });
}
