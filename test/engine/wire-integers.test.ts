import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { decodeMsgpack, encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';
import { familiesOf, integersSentAsFloats, msgpackFormats } from '../support/msgpack-formats.js';

/** Fields the protocol declares as integers (docs/protocol.md). */
const INTEGER_FIELDS = ['ts', 'seq', 'count'] as const;

interface RawFrame {
  readonly bytes: Buffer;
  readonly value: Record<string, unknown> & { t: string };
}

/** Keeps every frame's raw bytes: the formats are what is checked, not what a lenient decoder makes of them. */
class RawStream {
  readonly frames: RawFrame[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.frames.push({ bytes: data, value: decode(data) as RawFrame['value'] }));
  }

  static async open(url: string, token: string): Promise<RawStream> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`);
    const stream = new RawStream(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    return stream;
  }

  async next(t: string): Promise<RawFrame> {
    for (let i = 0; i < 1000; i++) {
      const f = this.frames.find((x) => x.value.t === t);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${t} frame; got ${this.frames.map((f) => f.value.t).join(',')}`);
  }
}

function assertIntegersAreInts(bytes: Uint8Array, what: string): void {
  assert.deepEqual(integersSentAsFloats(bytes), [], `${what}: integral numbers sent in a float format`);
  const fields = familiesOf(bytes, INTEGER_FIELDS);
  assert.ok(fields.length > 0, `${what} carries integer fields`);
  for (const f of fields) assert.equal(f.family, 'int', `${what}: ${f.path} must be a MessagePack integer`);
}

describe('#7.11 every integer field goes out as a MessagePack integer', () => {
  let node: FleetlineNode;
  let admin: string;
  const t0 = Date.now() - 10_000;
  before(async () => {
    node = await startTestNode({ WS_FLUSH_MS: '10' });
    admin = await node.auth.sign({ role: 'admin' });
    const first = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: t0, lat: 52.5, lon: 13.4, speed: 0, ignition: false }, await adminHeaders());
    assert.equal(first.status, 202);
    for (let i = 0; i < 500 && node.index.size < 1; i++) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => node.close());

  it('#7.11 snap, d, ev and pong frames carry ts and seq as integers, floats stay float64', async () => {
    const stream = await RawStream.open(node.url, admin);
    await stream.next('ready');
    stream.ws.send(encode({ t: 'sub', vehicles: ['va1'] }));
    const snap = await stream.next('snap');
    assertIntegersAreInts(snap.bytes, 'snap');
    assert.equal((snap.value.vehicles as Array<{ ts: number }>)[0].ts, t0);

    // The ignition on: a delta and an ignition_on event.
    const moved = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'da1', ts: t0 + 1000, lat: 52.5002, lon: 13.4003, speed: 82.5, ignition: true }, await adminHeaders());
    assert.equal(moved.status, 202);
    const d = await stream.next('d');
    assertIntegersAreInts(d.bytes, 'd');
    const ev = await stream.next('ev');
    assertIntegersAreInts(ev.bytes, 'ev');
    const events = ev.value.e as Array<{ ts: number; type: string }>;
    assert.ok(events.some((e) => e.type === 'ignition_on' && e.ts === t0 + 1000));
    // Non-integers are still float64, not truncated.
    const lat = msgpackFormats(d.bytes).find((s) => s.path.endsWith('.lat'));
    assert.deepEqual([lat?.family, lat?.format, lat?.number], ['float', 0xcb, 52.5002]);

    stream.ws.send(encode({ t: 'ping' }));
    const pong = await stream.next('pong');
    assertIntegersAreInts(pong.bytes, 'pong');
    assert.ok(Math.abs((pong.value.ts as number) - Date.now()) < 60_000, 'pong ts is the server time in ms');
    stream.ws.close();
  });

  it('#7.11 HTTP answers with Accept: application/msgpack carry ts and count as integers', async () => {
    const headers = { authorization: `Bearer ${admin}`, accept: 'application/msgpack' };
    const list = await fetch(`${node.url}/v1/vehicles`, { headers });
    assert.equal(list.headers.get('content-type'), 'application/msgpack');
    const listBytes = new Uint8Array(await list.arrayBuffer());
    assertIntegersAreInts(listBytes, 'GET /v1/vehicles');
    assert.equal((decode(listBytes) as { count: number }).count, 1);
    const one = new Uint8Array(await (await fetch(`${node.url}/v1/vehicles/va1`, { headers })).arrayBuffer());
    assertIntegersAreInts(one, 'GET /v1/vehicles/va1');
    assert.equal((decode(one) as { id: string }).id, 'va1');
  });

  it('#7.11 the codec writes every safe integer in an integer format and decodes them as numbers', () => {
    const values = [0, 1, -1, 127, 128, -33, 255, 65_535, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 1_764_000_000_123, -1_764_000_000_123, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    const doc = { ints: values, nested: [{ ts: 1_764_000_000_123, s: 'é'.repeat(40), bin: new Uint8Array(300), list: new Array(20).fill(2 ** 40) }], floats: [0.5, -1.25, 52.5012, 2 ** 60] };
    const bytes = encodeMsgpack(doc);
    assert.deepEqual(integersSentAsFloats(bytes).filter((p) => !p.startsWith('$.floats')), []);
    const ints = msgpackFormats(bytes).filter((s) => s.path.startsWith('$.ints'));
    assert.deepEqual(ints.map((s) => s.family), values.map(() => 'int'));
    // 2^60 is integral but beyond 2^53: not a safe integer, it stays the float it is.
    assert.deepEqual(msgpackFormats(bytes).filter((s) => s.path.startsWith('$.floats')).map((s) => s.format), [0xcb, 0xcb, 0xcb, 0xcb]);
    const back = decode(bytes, { useBigInt64: false }) as typeof doc;
    assert.deepEqual(back.ints, values);
    assert.deepEqual(back.floats, doc.floats);
    assert.equal(back.nested[0].ts, 1_764_000_000_123);
    // The engine's own decoder (client frames, log records) reads uint64/int64 back as plain numbers.
    const own = decodeMsgpack(bytes) as typeof doc;
    assert.deepEqual(own.ints, values);
    assert.equal(typeof own.nested[0].ts, 'number');
  });
});
