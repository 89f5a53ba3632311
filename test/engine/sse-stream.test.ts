import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetSnapshot } from '../../actors/domain/reference-data.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, testFleet, testToken, writeFleetFile, type Frame } from '../support/engine.js';
import { SseClient } from '../support/sse-client.js';

type Entry = Record<string, unknown> & { id: string };

const fleet: FleetSnapshot = {
  ...testFleet,
  vehicles: [...testFleet.vehicles, { id: 'va3', companyId: 'A', name: 'A three' }],
  devices: [...testFleet.devices, { deviceId: 'da3', vehicleId: 'va3' }],
  groups: [{ id: 'g-west', companyId: 'A', name: 'West', vehicleIds: ['va1'] }],
};

const ids = (vehicles: unknown): string[] => (vehicles as Entry[]).map((v) => v.id).sort();
const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
};

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 Server-Sent Events (GET /v1/sse) over ${transport}`, () => {
    let node: FleetlineNode;
    let tokenA: string;
    let headers: Record<string, string>;
    // Each device's points go forward in time; every move is a plausible drive (~100 m per 20 s).
    let ts = Date.now() - 3_600_000;
    const positions = new Map<string, { lat: number; lon: number }>([
      ['da1', { lat: 52.5, lon: 13.4 }], ['da2', { lat: 52.5, lon: 13.6 }], ['da3', { lat: 52.5, lon: 13.4 }], ['db1', { lat: 52.5, lon: 13.8 }],
    ]);
    const post = async (points: unknown[]): Promise<void> => {
      const res = await postJson(`${node.url}/v1/telemetry`, points, headers);
      assert.equal(res.status, 202);
      assert.equal(res.body.accepted, points.length);
    };
    /** Moves a device north by `metres`; resolves once its vehicle's view shows it. */
    const move = async (deviceId: string, metres = 100): Promise<{ lat: number; lon: number }> => {
      const p = positions.get(deviceId) as { lat: number; lon: number };
      const next = { lat: Number((p.lat + metres / 111_320).toFixed(6)), lon: p.lon };
      positions.set(deviceId, next);
      ts += 20_000;
      await post([{ deviceId, ts, ...next, speed: 18 }]);
      const vehicle = fleet.devices.find((d) => d.deviceId === deviceId)?.vehicleId as string;
      await until(`${vehicle} applied`, () => node.index.get(vehicle)?.lat === next.lat);
      return next;
    };
    const open = (query: string, extra: Record<string, string> = {}, vehicles?: Map<string, Entry>) =>
      SseClient.open(`${node.url}/v1/sse${query}`, extra, vehicles);

    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '20', SSE_HEARTBEAT_S: '1', FLEET_FILE: writeFleetFile(fleet) });
      tokenA = await node.auth.sign({ companies: ['A'] });
      headers = await adminHeaders();
      await post([...positions].map(([deviceId, p]) => ({ deviceId, ts, ...p, speed: 0 })));
      await until('four vehicles resident', () => node.index.size >= 4);
    });
    after(async () => node.close());

    it(`#9 runs on ${transport}`, () => assert.equal(node.transport, transport));

    it('#9 the stream is text/event-stream, no-cache, unbuffered; ready, then a snap of what the token grants, as JSON events', async () => {
      const client = await open(`?token=${tokenA}`);
      assert.equal(client.status, 200);
      assert.equal(client.headers['content-type'], 'text/event-stream');
      assert.equal(client.headers['cache-control'], 'no-cache');
      assert.equal(client.headers['x-accel-buffering'], 'no');
      const ready = await client.frame('ready');
      assert.deepEqual(ready.companies, ['A']);
      assert.match(String(ready.session), /^[A-Za-z0-9_-]{16,}$/);
      const snap = await client.next((e) => e.event === 'snap');
      assert.deepEqual(ids(snap.frame.vehicles), ['va1', 'va2', 'va3'], 'company A only');
      assert.equal(snap.id, `${String(ready.session)}:${String(ready.epoch)}:1`, 'id: <session>:<epoch>:<seq>');
      assert.equal(client.events[0].id, undefined, 'ready carries no seq, so no id');
      client.close();
    });

    it('#9 deltas of a moving vehicle arrive (Authorization: Bearer), and the client ends where the server is', async () => {
      const client = await open('?vehicles=va1', { authorization: `Bearer ${tokenA}` });
      await client.frame('snap');
      for (let i = 0; i < 3; i++) {
        const from = client.events.length;
        const p = await move('da1');
        await client.next((e) => e.event === 'd' && (e.frame.u as Entry[]).some((u) => u.id === 'va1' && u.lat === p.lat), 5000, from);
      }
      const server = node.index.get('va1');
      assert.equal(client.vehicles.get('va1')?.lat, server?.lat);
      assert.equal(client.vehicles.get('va1')?.ts, server?.ts);
      assert.deepEqual([...client.vehicles.keys()], ['va1']);
      client.close();
    });

    it("#9 another company's vehicles never appear, whether asked for by id, company, area or not at all", async () => {
      const clients = await Promise.all([
        open(`?token=${tokenA}`),
        open(`?token=${tokenA}&vehicles=vb1,va2`),
        open(`?token=${tokenA}&companies=A,B`),
        open(`?token=${tokenA}&bbox=13.5,52.4,13.9,52.6`),
      ]);
      for (const c of clients) await c.frame('snap');
      await move('db1');
      await move('db1');
      // va2 moves last: once each client has its delta, vb1's (earlier) would have arrived too.
      const p = await move('da2');
      for (const c of clients) {
        await c.next((e) => e.event === 'd' && (e.frame.u as Entry[]).some((u) => u.id === 'va2' && u.lat === p.lat));
        for (const e of c.events) assert.ok(!JSON.stringify(e.frame).includes('vb1'), `${e.event} names vb1`);
        c.close();
      }
    });

    it('#9 scope filters from the query string: vehicles, groups, bbox, status, fields=min', async () => {
      const moving = [...node.index.query({ grant: new Set(['A']), limit: 10 })].filter((v) => v.moving).map((v) => v.id).sort();
      const cases: Array<[string, string[]]> = [
        ['vehicles=va1,va3', ['va1', 'va3']],
        ['groups=g-west', ['va1']],
        ['bbox=13.5,52.4,13.7,52.6&zoom=11', ['va2']],
        ['status=moving', moving],
        ['companies=B', []],
      ];
      for (const [query, expected] of cases) {
        const client = await open(`?token=${tokenA}&${query}`);
        assert.deepEqual(ids((await client.frame('snap')).vehicles), expected, query);
        client.close();
      }
      const min = await open(`?token=${tokenA}&vehicles=va1&fields=min`);
      const [view] = (await min.frame('snap')).vehicles as Entry[];
      assert.equal(view.id, 'va1');
      assert.equal(view.name, undefined, 'min views carry no reference fields');
      min.close();

      // A vehicle driving out of the box leaves the scope: gone.
      const box = await open(`?token=${tokenA}&bbox=13.5,52.4,13.7,${(positions.get('da2') as { lat: number }).lat + 0.0005}`);
      assert.deepEqual(ids((await box.frame('snap')).vehicles), ['va2']);
      const from = box.events.length;
      await move('da2', 200);
      assert.deepEqual((await box.frame('gone', from)).ids, ['va2']);
      box.close();
    });

    it('#9 refusals come before the stream, as JSON: bad token 401, no token 401, bad query 400, ingest credential 403, HEAD 405', async () => {
      const cases: Array<[string, Record<string, string>, number, string]> = [
        ['?token=not-a-jwt', {}, 401, 'BAD_TOKEN'],
        ['', { authorization: 'Bearer not-a-jwt' }, 401, 'BAD_TOKEN'],
        ['', {}, 401, 'UNAUTHORIZED'],
        [`?token=${tokenA}&colour=red`, {}, 400, 'BAD_QUERY'],
        [`?token=${tokenA}&bbox=1,2,3`, {}, 400, 'BAD_QUERY'],
        [`?token=${tokenA}&status=flying`, {}, 400, 'BAD_SUBSCRIPTION'],
        [`?token=${tokenA}&lastEventId=garbage`, {}, 400, 'BAD_QUERY'],
        [`?token=${tokenA}`, { 'last-event-id': 'a:b:c' }, 400, 'BAD_QUERY'],
        [`?token=${await testToken({ role: 'ingest', companies: ['A'] })}`, {}, 403, 'FORBIDDEN'],
      ];
      for (const [query, extra, status, code] of cases) {
        const client = await open(query, extra);
        await client.done();
        assert.equal(client.status, status, `${query} ${JSON.stringify(extra)}`);
        assert.match(String(client.headers['content-type']), /^application\/json/);
        assert.equal((JSON.parse(client.body) as { error: { code: string } }).error.code, code, query);
      }
      const head = await fetch(`${node.url}/v1/sse?token=${tokenA}`, { method: 'HEAD' });
      assert.equal(head.status, 405);
      assert.equal(node.sse.connections, 0, 'no refused request opened a stream');
    });

    it('#9 POST /v1/sse/:session/sub replaces the subscription of the open stream: gone and entries, no new snap', async () => {
      const client = await open(`?token=${tokenA}&vehicles=va1`);
      const session = String((await client.frame('ready')).session);
      await client.frame('snap');
      const url = `${node.url}/v1/sse/${session}/sub`;
      const from = client.events.length;
      const res = await postJson(url, { vehicles: ['va2', 'vb1'] }, { authorization: `Bearer ${tokenA}` });
      assert.equal(res.status, 202);
      assert.deepEqual(res.body, { session });
      assert.deepEqual((await client.frame('gone', from)).ids, ['va1']);
      assert.deepEqual(ids((await client.frame('d', from)).u), ['va2'], 'vb1 is not the token\'s');
      assert.ok(!client.events.slice(from).some((e) => e.event === 'snap'));

      const other = await node.auth.sign({ companies: ['A'], sub: 'someone else' });
      assert.equal((await postJson(url, { vehicles: ['va1'] }, { authorization: `Bearer ${other}` })).status, 404, 'only the token that opened it');
      assert.equal((await postJson(`${node.url}/v1/sse/no-such-session/sub`, {}, { authorization: `Bearer ${tokenA}` })).status, 404);
      assert.equal((await postJson(url, {}, {})).status, 401);
      const bad = await postJson(url, { bbox: [1, 2] }, { authorization: `Bearer ${tokenA}` });
      assert.deepEqual([bad.status, (bad.body.error as { code: string }).code], [400, 'BAD_SUBSCRIPTION']);
      const malformed = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${tokenA}` }, body: '{' });
      assert.equal(malformed.status, 400);
      client.close();
    });

    it('#9 a quiet stream gets a comment line every SSE_HEARTBEAT_S', async () => {
      const client = await open(`?token=${tokenA}&vehicles=nothing-here`);
      await client.frame('snap');
      await client.comment((c) => c === 'heartbeat', 10_000);
      client.close();
    });

    it('#9 closing the client frees its subscriber actor', async () => {
      await until('earlier streams gone', () => node.sse.connections === 0 && node.hub.targets === 0);
      const client = await open(`?token=${tokenA}`);
      const session = String((await client.frame('ready')).session);
      await client.frame('snap');
      assert.equal(node.sse.connections, 1);
      assert.equal(node.hub.targets, 1, 'the actor is filed at the delivery hub');
      client.close();
      await until('the actor left the hub', () => node.sse.connections === 0 && node.hub.targets === 0);
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      assert.match(metrics, /fleetline_sse_connections\{[^}]*\} 0/);
      assert.equal((await postJson(`${node.url}/v1/sse/${session}/sub`, {}, { authorization: `Bearer ${tokenA}` })).status, 404);
    });

    it('#9 a reconnect with Last-Event-ID (as EventSource sends it) ends with the client holding what the server holds', async () => {
      const first = await open(`?token=${tokenA}&vehicles=va1,va2`);
      await first.frame('snap');
      const lastEventId = first.lastEventId as string;
      assert.ok(lastEventId);
      first.close();
      const p = await move('da1');
      const again = await open(`?token=${tokenA}&vehicles=va1,va2`, { 'last-event-id': lastEventId }, first.vehicles);
      assert.equal(again.status, 200);
      // With resume the gap comes as `resumed` + a partial snap; without it, as a fresh snap.
      await again.next((e) => e.event === 'snap' || (e.event === 'd' && (e.frame.u as Entry[]).some((u) => u.id === 'va1' && u.lat === p.lat)));
      await until('va1 at its latest position', () => again.vehicles.get('va1')?.lat === p.lat);
      assert.deepEqual([...again.vehicles.keys()].sort(), ['va1', 'va2']);
      assert.equal(again.vehicles.get('va2')?.lat, node.index.get('va2')?.lat);
      again.close();
    });

    it('#9 the stream ends with a close event 4401 when its token expires', async () => {
      const client = await open(`?token=${await testToken({ companies: ['A'] }, '2s')}&vehicles=va1`);
      await client.frame('snap');
      const close = await client.frame('close', 0, 10_000);
      assert.deepEqual([close.code, close.reason], [4401, 'TOKEN_EXPIRED']);
      await client.done();
    });
  });
}

/** Every delta carries ~250 bytes of attributes that change each round, so unsent bytes pile up fast. */
const PAD = 'x'.repeat(240);
const VEHICLES = 3000;
const bigFleet: FleetSnapshot = {
  companies: [{ id: 'A', name: 'Company A', active: true }],
  vehicles: Array.from({ length: VEHICLES }, (_, i) => ({ id: `v${i}`, companyId: 'A', name: `V ${i}` })),
  devices: Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, vehicleId: `v${i}` })),
};

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 a slow SSE client is closed like a slow WebSocket client (${transport})`, () => {
    let node: FleetlineNode;
    let token: string;
    before(async () => {
      node = await startTestNode({
        TRANSPORT: transport, FLEET_FILE: writeFleetFile(bigFleet), WS_FLUSH_MS: '10',
        WS_MAX_QUEUED_BYTES: '65536', WS_MAX_BUFFERED_BYTES: String(16 * 1024 * 1024), SSE_HEARTBEAT_S: '60',
      });
      token = await node.auth.sign({ role: 'admin' });
    });
    after(async () => node.close());

    const post = async (round: number, base: number): Promise<void> => {
      const res = await fetch(`${node.url}/v1/telemetry`, {
        method: 'POST', headers: { 'content-type': 'application/msgpack', ...(await adminHeaders()) },
        body: encode(Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, ts: base + round * 1000, lat: 10 + round / 1000, lon: 10 + i / 10_000, speed: round % 90, attrs: { round, pad: PAD } }))),
      });
      assert.equal(res.status, 202);
    };
    const slowClosures = async (): Promise<number> =>
      Number(/fleetline_ws_client_errors_total\{code="SLOW_CLIENT"[^}]*\} (\d+)/.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);

    it('#9 the stalled reader gets what was queued, then a close event 4408; another stream keeps flowing', async () => {
      const base = Date.now() - 600_000;
      await post(0, base);
      await until('vehicles resident', () => node.index.size >= VEHICLES);
      const slow = await SseClient.open(`${node.url}/v1/sse?token=${token}`);
      const fast = await SseClient.open(`${node.url}/v1/sse?token=${token}&vehicles=v0`);
      await slow.frame('snap', 0, 10_000);
      await fast.frame('snap');
      slow.socket.pause();
      let round = 1;
      while ((await slowClosures()) === 0 && round < 400) await post(round++, base);
      assert.equal(await slowClosures(), 1, `the server closed the slow stream (after ${round} rounds)`);
      // The other stream was not held up: it has v0 as of the last round.
      await until('the fast stream is current', () => (fast.vehicles.get('v0')?.attrs as { round?: number } | undefined)?.round === round - 1);
      slow.socket.resume();
      await slow.done(40_000);
      const last = slow.events.at(-1)?.frame as Frame;
      assert.deepEqual([last.t, last.code, last.reason], ['close', 4408, 'SLOW_CLIENT']);
      assert.equal(slow.seqViolation, null, 'every queued event arrived, in order');
      await until('the slow stream\'s actor is gone', () => node.sse.connections === 1 && node.hub.targets === 1);
      fast.close();
    });
  });
}

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 a node that shuts down ends its SSE streams with 4503 (${transport})`, () => {
    it('#9 the stream gets a close event 4503, then its end', async () => {
      const node = await startTestNode({ TRANSPORT: transport });
      try {
        const client = await SseClient.open(`${node.url}/v1/sse?token=${await node.auth.sign({ role: 'admin' })}`);
        await client.frame('snap');
        await node.close();
        await client.done();
        const last = client.events.at(-1)?.frame as Frame;
        assert.deepEqual([last.t, last.code], ['close', 4503]);
      } finally {
        await node.close();
      }
    });
  });
}
