import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

interface RawAnswer {
  readonly status: number | null;
  readonly head: string;
  readonly body: string;
}

/**
 * Writes one request over a raw TCP socket and reads until the server closes or answers:
 * fetch cannot show the difference between a 414 and a reset when a megabyte is still unsent.
 */
function rawRequest(port: number, target: string): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: status ? Number(status[1]) : null, head: text.slice(0, split), body: split < 0 ? '' : text.slice(split + 4) });
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (split >= 0 && length && text.length >= split + 4 + Number(length[1])) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

for (const transport of ['uws', 'ws'] as const) {
  describe(`#7.13 HTTP edge cases on ${transport}`, () => {
    let node: FleetlineNode;
    let auth: Record<string, string>;
    const ts = Date.now() - 60_000;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport });
      auth = { authorization: `Bearer ${await node.auth.sign({ role: 'admin' })}` };
      const res = await postJson(`${node.url}/v1/telemetry`, [
        { deviceId: 'da1', ts, lat: 52.5, lon: 13.4 }, { deviceId: 'da2', ts, lat: 52.6, lon: 13.5 },
      ], await adminHeaders());
      assert.equal(res.status, 202);
      for (let i = 0; i < 500 && node.index.size < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(node.index.size, 2);
    });
    after(async () => node.close());
    const get = (target: string, init: RequestInit = {}) => fetch(`${node.url}${target}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });

    it(`runs on ${transport}`, () => assert.equal(node.transport, transport));

    it('#7.13 a malformed percent-escape in /v1/vehicles/:id is 400 BAD_PATH, not 500', async () => {
      const res = await get('/v1/vehicles/%E0%A4%A');
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'BAD_PATH');
      const encoded = await get('/v1/vehicles/v%611');
      assert.equal(encoded.status, 200, 'a well-formed escape is decoded');
      assert.equal(((await encoded.json()) as { id: string }).id, 'va1');
    });

    it('#7.13 bbox, limit and unknown or repeated parameters are validated', async () => {
      for (const query of [
        'bbox=,,,', 'bbox=0x0D,52,14,53', 'bbox=1e1,52,14,53', 'bbox=13,52,14', 'bbox=13,52,14,53,1', 'bbox=13, 52,14,53', 'bbox=Infinity,52,14,53',
        'bbox=0,50,10,40', 'limit=0x10', 'limit=1e2', 'limit=0', 'limit=2.5', 'ids=', 'ids=va1,,va2', 'company=', 'colour=red', 'limit=5&limit=6',
      ]) {
        const res = await get(`/v1/vehicles?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(await errorCode(res), 'BAD_QUERY', query);
      }
      const ok = await get('/v1/vehicles?bbox=13.0,52.0,14,53&limit=10&company=A');
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { count: number }).count, 2);
    });

    it('#7.13 ids= with 5,000 copies of one id returns that vehicle once', async () => {
      const res = await get(`/v1/vehicles?ids=${Array(5000).fill('va1').join(',')}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { count: number; vehicles: { id: string }[] };
      assert.equal(body.count, 1);
      assert.deepEqual(body.vehicles.map((v) => v.id), ['va1']);
      const two = (await (await get('/v1/vehicles?ids=va2,va1,va2,va1')).json()) as { vehicles: { id: string }[] };
      assert.deepEqual(two.vehicles.map((v) => v.id).sort(), ['va1', 'va2']);
    });

    it('#7.13 a request target over 32 KiB gets 414 URI_TOO_LONG', async () => {
      const answer = await rawRequest(node.port, `/v1/vehicles?ids=${'a'.repeat(40 * 1024)}`);
      assert.equal(answer.status, 414, answer.head);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'URI_TOO_LONG');
    });

    if (transport === 'ws') {
      it('#7.13 a 2 MB URL gets 414, not a reset', async () => {
        const answer = await rawRequest(node.port, `/v1/vehicles?ids=${'a'.repeat(2 * 1024 * 1024)}`);
        assert.equal(answer.status, 414, answer.head);
        assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'URI_TOO_LONG');
      });
    } else {
      it('#7.13 uWS: a 2 MB URL is cut by the library before any JavaScript runs (documented in docs/http-api.md)', async () => {
        // This pins the documented limit of the uWebSockets.js build: should a later build answer
        // instead, this test fails and docs/http-api.md must be updated to the better behaviour.
        const answer = await rawRequest(node.port, `/v1/vehicles?ids=${'a'.repeat(2 * 1024 * 1024)}`);
        assert.equal(answer.status, null, `uWS answered ${answer.head}: update docs/http-api.md and this test to the better behaviour`);
        assert.equal((await get('/healthz')).status, 200, 'the node keeps serving');
      });
    }

    it('#7.13 HEAD on a read route is GET without a body', async () => {
      for (const target of ['/v1/vehicles', '/v1/vehicles/va1', '/healthz']) {
        const [head, full] = [await get(target, { method: 'HEAD' }), await get(target)];
        assert.equal(head.status, 200, target);
        const body = await full.text();
        assert.equal(await head.text(), '', target);
        assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)), target);
        assert.equal(head.headers.get('content-type'), full.headers.get('content-type'), target);
      }
    });

    it('#7.13 a method a known route does not take is 405 with Allow; unknown routes stay 404', async () => {
      for (const [method, target, allow] of [
        ['PUT', '/v1/vehicles', 'GET, HEAD'], ['DELETE', '/v1/vehicles/va1', 'GET, HEAD'], ['POST', '/v1/vehicles', 'GET, HEAD'],
        ['PUT', '/v1/telemetry', 'POST'], ['GET', '/v1/telemetry', 'POST'], ['HEAD', '/v1/telemetry', 'POST'],
        ['HEAD', '/v1/osmand', 'GET, POST'], ['PATCH', '/healthz', 'GET, HEAD'],
      ] as const) {
        const res = await get(target, { method });
        assert.equal(res.status, 405, `${method} ${target}`);
        assert.equal(res.headers.get('allow'), allow, `${method} ${target}`);
        if (method !== 'HEAD') assert.equal(await errorCode(res), 'METHOD_NOT_ALLOWED');
      }
      assert.equal((await get('/nowhere', { method: 'PUT' })).status, 404);
    });
  });
}

describe('#7.13 numbers and dates in intake', () => {
  let node: FleetlineNode;
  let auth: Record<string, string>;
  before(async () => {
    node = await startTestNode();
    auth = { authorization: `Bearer ${await node.auth.sign({ role: 'admin' })}` };
  });
  after(async () => node.close());

  const iso = (ms: number, offset = 'Z'): string => new Date(ms).toISOString().replace('Z', offset);

  it('#7.13 impossible dates and zone-less ISO times are BAD_TIMESTAMP; offsets are honoured', async () => {
    const base = Date.now() - 120_000;
    const res = await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'da1', ts: '2026-02-30T10:00:00Z', lat: 52.5, lon: 13.4 },
      { deviceId: 'da1', ts: iso(base).replace('Z', ''), lat: 52.5, lon: 13.4 },
      // The same instant written at +02:00: the wall clock is two hours later.
      { deviceId: 'da1', ts: iso(base + 2 * 3_600_000, '+02:00'), lat: 52.5, lon: 13.4 },
    ], await adminHeaders());
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { accepted: 1, rejected: [{ index: 0, reason: 'BAD_TIMESTAMP' }, { index: 1, reason: 'BAD_TIMESTAMP' }] });
    let view: { ts: number } | undefined;
    for (let i = 0; i < 300 && !view; i++) {
      const r = await fetch(`${node.url}/v1/vehicles/va1`, { headers: auth });
      if (r.status === 200) view = (await r.json()) as { ts: number };
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(view?.ts, base);
  });

  it('#7.13 #10 OsmAnd reads numbers as Traccar does (Java decimals, exponents included): hex is 400 BAD_QUERY naming the parameter', async () => {
    const ts = Math.floor(Date.now() / 1000) - 30;
    for (const [params, name] of [[`timestamp=${ts}&lat=0x34&lon=13.4`, 'lat'], [`timestamp=0x${ts.toString(16)}&lat=52.5&lon=13.4`, 'timestamp']]) {
      const res = await fetch(`${node.url}/v1/osmand?id=da2&${params}`);
      assert.equal(res.status, 400, params);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, new RegExp(`^${name}`), params);
    }
    const exponent = await fetch(`${node.url}/v1/osmand?id=da2&timestamp=${ts}&lat=52.5&lon=1.34e1`);
    assert.equal(exponent.status, 200);
    await exponent.arrayBuffer();
  });

  it('#7.13 #10 a malformed OsmAnd parameter is 400 BAD_QUERY naming it; unknown ones are attributes and a repeated one counts once (the last), as in Traccar', async () => {
    const ts = Math.floor(Date.now() / 1000) - 20;
    for (const [params, name] of [[`timestamp=${ts}&lat=north&lon=13.4`, 'lat'], [`timestamp=yesterday&lat=52.5&lon=13.4`, 'timestamp'], [`timestamp=${ts}&location=52.5`, 'location']]) {
      const res = await fetch(`${node.url}/v1/osmand?id=da2&${params}`);
      assert.equal(res.status, 400, params);
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'BAD_QUERY');
      assert.match(error.message, new RegExp(`^${name}`), params);
    }
    for (const params of [`timestamp=${ts}&lat=52.5&lon=13.4&ignition=maybe`, `timestamp=${ts + 1}&lat=52.5&lat=52.6&lon=13.4`]) {
      const res = await fetch(`${node.url}/v1/osmand?id=da2&${params}`);
      assert.equal(res.status, 200, params);
      await res.arrayBuffer();
    }
  });

  it('#7.13 #10 DUPLICATE is never in rejected[]: the actor counts it with source="actor"; an older (late) point is not rejected at all (stored, #10)', async () => {
    const counted = (reason: string, metrics: string) => Number(new RegExp(`fleetline_points_rejected_total\\{reason="${reason}",source="actor"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    const before = await (await fetch(`${node.url}/metrics`)).text();
    const [duplicates, late] = [counted('DUPLICATE', before), counted('OUT_OF_ORDER', before)];
    const ts = Date.now() - 30_000;
    const first = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'db1', ts, lat: 48.1, lon: 11.5 }, await adminHeaders());
    assert.equal(first.status, 202);
    const again = await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'db1', ts, lat: 48.1, lon: 11.5 }, { deviceId: 'db1', ts: ts - 1000, lat: 48.1, lon: 11.5 },
    ], await adminHeaders());
    assert.deepEqual([again.status, again.body], [202, { accepted: 2, rejected: [] }]);
    let metrics = '';
    for (let i = 0; i < 300; i++) {
      metrics = await (await fetch(`${node.url}/metrics`)).text();
      if (counted('DUPLICATE', metrics) > duplicates) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(counted('DUPLICATE', metrics) - duplicates, 1);
    assert.equal(counted('OUT_OF_ORDER', metrics) - late, 0);
  });
});
