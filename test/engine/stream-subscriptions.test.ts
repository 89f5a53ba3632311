import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode, StreamClient, testFleet, writeFleetFile, type Frame } from '../support/engine.js';

const enc = (v: unknown) => encode(v);
type Entry = Record<string, unknown> & { id: string };

const fleet = {
  ...testFleet,
  vehicles: [...testFleet.vehicles, { id: 'va3', companyId: 'A', name: 'A three', plate: 'A-3' }],
  devices: [...testFleet.devices, { deviceId: 'da3', vehicleId: 'va3' }],
  groups: [{ id: 'g-west', companyId: 'A', name: 'West', vehicleIds: ['va1'] }],
};

const entries = (frames: Frame[], t: string): string[] =>
  frames.filter((f) => f.t === t).flatMap((f) => (t === 'gone' ? (f.ids as string[]) : (f.u as Entry[]).map((u) => u.id))).sort();

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 subscriptions over ${transport}: filters, groups, viewport changes`, () => {
    let node: FleetlineNode;
    let admin: string;
    let headers: Record<string, string>;
    const t0 = Date.now() - 3_600_000;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_FLUSH_MS: '20', FLEET_FILE: writeFleetFile(fleet) });
      admin = await node.auth.sign({ role: 'admin' });
      headers = await adminHeaders();
    });
    after(async () => node.close());

    const post = async (points: unknown[]) => {
      const res = await postJson(`${node.url}/v1/telemetry`, points, headers);
      assert.equal(res.status, 202);
      assert.equal(res.body.accepted, points.length);
    };
    const resident = async (n: number) => {
      for (let i = 0; i < 200 && node.index.size < n; i++) await new Promise((r) => setTimeout(r, 10));
    };

    it(`#9 runs on ${transport}`, () => assert.equal(node.transport, transport));

    it('#9 status moving, min fields: a vehicle that stops leaves (gone) and comes back (entry) when it moves again', async () => {
      await post([{ deviceId: 'da3', ts: t0, lat: 52.5, lon: 13.4, speed: 0 }]);
      await resident(1);
      const client = await StreamClient.connect(node.url, admin);
      client.send({ t: 'sub', vehicles: ['va3'], filter: { status: ['moving'] }, fields: 'min' }, enc);
      const snap = await client.next((f) => f.t === 'snap');
      assert.deepEqual(snap.vehicles, [], 'stopped: not in scope');

      // 300 m in a minute (18 km/h): past the 200 m a stopped vehicle must go to start a trip.
      let from = client.frames.length;
      await post([{ deviceId: 'da3', ts: t0 + 60_000, lat: 52.5027, lon: 13.4, speed: 18 }]);
      const entry = (await client.next((f) => f.t === 'd', 5000, from)).u as Entry[];
      assert.deepEqual(entry.map((u) => u.id), ['va3']);
      assert.equal(entry[0].moving, true);
      assert.equal(entry[0].lat, 52.5027);
      assert.equal(entry[0].name, undefined, 'min entries carry no reference fields');

      // Standing there for longer than stopMinDurationS (180 s) stops it.
      from = client.frames.length;
      await post([
        { deviceId: 'da3', ts: t0 + 120_000, lat: 52.5027, lon: 13.4, speed: 0 },
        { deviceId: 'da3', ts: t0 + 320_000, lat: 52.5027, lon: 13.4, speed: 0 },
      ]);
      const gone = await client.next((f) => f.t === 'gone', 5000, from);
      assert.deepEqual(gone.ids, ['va3']);

      from = client.frames.length;
      await post([{ deviceId: 'da3', ts: t0 + 380_000, lat: 52.5054, lon: 13.4, speed: 18 }]);
      const back = (await client.next((f) => f.t === 'd', 5000, from)).u as Entry[];
      assert.deepEqual(back.map((u) => [u.id, u.moving, u.lat]), [['va3', true, 52.5054]]);
      client.close();
    });

    it('#9 changing the viewport and the selectors sends gone for what left and entries for what entered, never a new snap', async () => {
      await post([
        { deviceId: 'da1', ts: t0, lat: 52.5, lon: 13.4 },
        { deviceId: 'da2', ts: t0, lat: 52.5, lon: 13.6 },
        { deviceId: 'db1', ts: t0, lat: 52.5, lon: 13.8 },
      ]);
      await resident(4);
      const client = await StreamClient.connect(node.url, admin);
      client.send({ t: 'sub', bbox: [13.3, 52.45, 13.7, 52.501], zoom: 11 }, enc);
      const snap = await client.next((f) => f.t === 'snap');
      assert.deepEqual((snap.vehicles as Entry[]).map((v) => v.id).sort(), ['va1', 'va2']);

      let from = client.frames.length;
      client.send({ t: 'sub', bbox: [13.5, 52.45, 13.9, 52.501], zoom: 11 }, enc);
      client.send({ t: 'ping' }, enc);
      await client.next((f) => f.t === 'pong', 5000, from);
      let frames = client.frames.slice(from);
      assert.deepEqual(entries(frames, 'gone'), ['va1']);
      assert.deepEqual(entries(frames, 'd'), ['vb1'], 'va2 stayed in view: not sent again');
      assert.ok(!frames.some((f) => f.t === 'snap'));

      // A vehicle driving across the new box's west edge enters (80 m: a plausible drive).
      from = client.frames.length;
      await post([{ deviceId: 'da1', ts: t0 + 3_000_000, lat: 52.5, lon: 13.5005 }]);
      const moved = await client.next((f) => f.t === 'd', 5000, from);
      assert.deepEqual((moved.u as Entry[]).map((u) => u.id), ['va1']);
      assert.equal((moved.u as Entry[])[0].name, 'A one', 'an entering vehicle arrives whole');

      from = client.frames.length;
      client.send({ t: 'sub', groups: ['g-west'] }, enc);
      client.send({ t: 'ping' }, enc);
      await client.next((f) => f.t === 'pong', 5000, from);
      frames = client.frames.slice(from);
      assert.deepEqual(entries(frames, 'gone'), ['va2', 'vb1']);
      assert.deepEqual(entries(frames, 'd'), [], 'va1 is already shown');
      client.close();
    });
  });
}
