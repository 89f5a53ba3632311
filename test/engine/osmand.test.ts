import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../engine/config.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { osmandTimestamp } from '../../engine/osmand-time.js';
import { adminHeaders, startTestNode, TEST_SECRET } from '../support/engine.js';

/** The decoding is under test here, not the vehicle filters: positions hop and fixes are marked invalid. */
const DECODING_ONLY = JSON.stringify({ filterMaxSpeedKmh: 0, filterInvalid: false });

type View = Record<string, unknown>;

async function viewOf(node: FleetlineNode, id: string, ready: (v: View) => boolean = () => true): Promise<View> {
  const headers = await adminHeaders();
  let last: View | undefined;
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent(id)}`, { headers });
    if (r.status === 200) {
      last = (await r.json()) as View;
      if (ready(last)) return last;
    } else await r.arrayBuffer();
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.fail(`vehicle ${id} never got there; last view: ${JSON.stringify(last)}`);
}

async function rejected(node: FleetlineNode, reason: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`fleetline_points_rejected_total\\{reason="${reason}",source="osmand"[^}]*\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

async function status(res: Response): Promise<number> {
  await res.arrayBuffer();
  return res.status;
}

describe('#10 OsmAnd timestamps and the OsmAnd port setting', () => {
  it('#10 Traccar\'s seconds-versus-milliseconds rule: below 2^31 - 1 seconds, from it on milliseconds', () => {
    assert.equal(osmandTimestamp('2147483646'), 2_147_483_646_000);
    assert.equal(osmandTimestamp('2147483647'), 2_147_483_647);
    assert.equal(osmandTimestamp('1700000000000'), 1_700_000_000_000);
  });

  it('#10 ISO 8601 and yyyy-MM-dd HH:mm:ss (read as UTC); an impossible date is refused, not rolled over', () => {
    assert.equal(osmandTimestamp('2024-03-01T10:00:00+02:00'), Date.parse('2024-03-01T08:00:00Z'));
    assert.equal(osmandTimestamp('2024-03-01T10:00:00.250Z'), Date.parse('2024-03-01T10:00:00.250Z'));
    assert.equal(osmandTimestamp('2024-03-01 10:00:00'), Date.parse('2024-03-01T10:00:00Z'));
    assert.throws(() => osmandTimestamp('2024-02-30 10:00:00'), /timestamp/);
  });

  it('#10 OSMAND_PORT: 5055 by default, 0 (a free port) when PORT is 0, off disables it', () => {
    const base = { JWT_SECRET: TEST_SECRET };
    assert.equal(loadConfig(base).osmandPort, 5055);
    assert.equal(loadConfig({ ...base, PORT: '0' }).osmandPort, 0);
    assert.equal(loadConfig({ ...base, PORT: '0', OSMAND_PORT: '5056' }).osmandPort, 5056);
    assert.equal(loadConfig({ ...base, OSMAND_PORT: 'off' }).osmandPort, null);
    assert.throws(() => loadConfig({ ...base, OSMAND_PORT: 'yes' }), /OSMAND_PORT/);
  });
});

describe('#10 OsmAnd protocol (Traccar Client) on a production node: registered devices only', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ DOMAIN_SETTINGS: DECODING_ONLY });
  });
  after(async () => node.close());

  it('#10 a GET with query parameters becomes a position (speed in knots → km/h)', async () => {
    const ts = Math.floor(Date.now() / 1000) - 10;
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=da1&timestamp=${ts}&lat=52.52&lon=13.40&speed=10&bearing=90&altitude=34&batt=88`)), 200);
    const v = await viewOf(node, 'va1', (x) => x.ts === ts * 1000);
    assert.equal(v.lat, 52.52);
    assert.equal(v.speed, 18.5);
    assert.equal(v.course, 90);
    assert.deepEqual(v.attrs, { batteryLevel: 88 });
  });

  it('#10 OsmAnd\'s own port takes reports on any path, and refuses an unregistered device like /v1/osmand (403)', async () => {
    assert.ok(node.osmandPort !== null);
    const port = `http://127.0.0.1:${node.osmandPort}`;
    const ts = Math.floor(Date.now() / 1000) - 8;
    assert.equal(await status(await fetch(`${port}/?id=da1&timestamp=${ts}&lat=52.53&lon=13.40`)), 200);
    await viewOf(node, 'va1', (x) => x.lat === 52.53);
    const body = { location: { timestamp: new Date((ts + 1) * 1000).toISOString(), coords: { latitude: 52.54, longitude: 13.4, speed: 5, heading: 180, accuracy: 4, altitude: 30 }, battery: { level: 0.5, is_charging: true } }, device_id: 'da1' };
    assert.equal(await status(await fetch(`${port}/any/path`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })), 200);
    const v = await viewOf(node, 'va1', (x) => x.lat === 52.54);
    assert.equal(v.speed, 18, '5 m/s');
    assert.deepEqual(v.attrs, { batteryLevel: 50, charge: true, accuracy: 4 });
    const stranger = await fetch(`${port}/?id=stranger&timestamp=${ts}&lat=1&lon=1`);
    assert.equal(stranger.status, 403);
    assert.equal(((await stranger.json()) as { error: { code: string } }).error.code, 'UNKNOWN_DEVICE');
    const strangerJson = await fetch(`${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, device_id: 'stranger' }) });
    assert.equal(strangerJson.status, 403);
    await strangerJson.arrayBuffer();
  });

  it('#10 a bad coordinate is refused with its reason; malformed JSON is 400 MALFORMED_BODY', async () => {
    const bad = await fetch(`${node.url}/v1/osmand?id=da2&lat=123&lon=13.3`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'BAD_LATITUDE');
    const json = await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"location":' });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: { code: string } }).error.code, 'MALFORMED_BODY');
  });
});

describe('#10 OsmAnd as Traccar speaks it: bodies, reports without a fix, attributes', () => {
  let node: FleetlineNode;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const unbound = (device: string) => `~dev/${device}`;
  before(async () => {
    node = await startTestNode({ ACCEPT_UNBOUND_DEVICES: 'true', DOMAIN_SETTINGS: DECODING_ONLY });
  });
  after(async () => node.close());

  it('#10 a form body is read when the URL has no parameters (whatever its content type), ignored when it has some', async () => {
    const ts = Math.floor(Date.now() / 1000) - 30;
    assert.equal(await status(await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: form, body: `id=f1&lat=52.5&lon=13.3&timestamp=${ts}` })), 200);
    await viewOf(node, unbound('f1'), (v) => v.lat === 52.5);
    assert.equal(await status(await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `id=f1&lat=52.6&lon=13.3&timestamp=${ts + 1}` })), 200);
    await viewOf(node, unbound('f1'), (v) => v.lat === 52.6);
    // The URL's parameters win: the body's position is not read, so this is a report without a fix.
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=f1&timestamp=${ts + 2}&batt=70`, { method: 'POST', headers: form, body: 'lat=10&lon=10' })), 200);
    const v = await viewOf(node, unbound('f1'), (x) => x.ts === (ts + 2) * 1000);
    assert.equal(v.lat, 52.6);
    assert.deepEqual(v.attrs, { batteryLevel: 70, outdated: true });
  });

  it('#10 a report without a fix (cell / wifi only) is accepted and keeps the last position, speed and odometer', async () => {
    const ts = Math.floor(Date.now() / 1000) - 60;
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=n1&timestamp=${ts}&lat=48.1&lon=11.5`)), 200);
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=n1&timestamp=${ts + 10}&lat=48.11&lon=11.5&speed=20&bearing=10`)), 200);
    const fix = await viewOf(node, unbound('n1'), (v) => v.lat === 48.11);
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=n1&timestamp=${ts + 20}&cell=262,01,100,2000,-70&wifi=00-14-22-01-23-45,-80&batt=41`)), 200);
    const kept = await viewOf(node, unbound('n1'), (v) => v.ts === (ts + 20) * 1000);
    assert.deepEqual({ lat: kept.lat, lon: kept.lon, speed: kept.speed, course: kept.course, moving: kept.moving }, { lat: fix.lat, lon: fix.lon, speed: fix.speed, course: fix.course, moving: fix.moving });
    assert.deepEqual(kept.attrs, { batteryLevel: 41, outdated: true });
    // The same as JSON: the current Traccar Client's location without coords.
    const json = { location: { timestamp: new Date((ts + 30) * 1000).toISOString(), battery: { level: 0.4 }, activity: { type: 'still' } }, device_id: 'n1' };
    assert.equal(await status(await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) })), 200);
    const keptJson = await viewOf(node, unbound('n1'), (v) => v.ts === (ts + 30) * 1000);
    assert.equal(keptJson.lat, fix.lat);
    assert.deepEqual(keptJson.attrs, { activity: 'still', batteryLevel: 40, outdated: true });
  });

  it('#10 a report without a fix for a device with no position yet is answered 200 and counted as NO_POSITION', async () => {
    const before = await rejected(node, 'NO_POSITION');
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=n2&cell=262,01,100,2000`)), 200);
    assert.equal(await rejected(node, 'NO_POSITION'), before + 1);
    const r = await fetch(`${node.url}/v1/vehicles/${encodeURIComponent(unbound('n2'))}`, { headers: await adminHeaders() });
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  });

  it('#10 location=lat,lon, a negative bearing (unknown: no course), valid=false and every other parameter kept as an attribute', async () => {
    const ts = Math.floor(Date.now() / 1000) - 50;
    assert.equal(await status(await fetch(`${node.url}/v1/osmand?id=p1&timestamp=${ts}&location=47.5,8.5&bearing=-1&valid=false&driverUniqueId=D-42&rpm=933&door=open&alarm=sos&hdop=1.5&accuracy=12`)), 200);
    const v = await viewOf(node, unbound('p1'), (x) => x.lat === 47.5);
    assert.equal(v.lon, 8.5);
    assert.equal(v.course, undefined);
    assert.deepEqual(v.attrs, { driverUniqueId: 'D-42', rpm: 933, door: 'open', alarm: 'sos', hdop: 1.5, accuracy: 12, valid: false });
  });

  it('#10 attributes are bounded: a report with more than 32 is 400 BAD_ATTRS and counted', async () => {
    const before = await rejected(node, 'BAD_ATTRS');
    const extra = Array.from({ length: 40 }, (_, i) => `a${i}=${i}`).join('&');
    const res = await fetch(`${node.url}/v1/osmand?id=p2&lat=1&lon=1&${extra}`);
    assert.equal(res.status, 400);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'BAD_ATTRS');
    assert.match(error.message, /at most 32/);
    assert.equal(await rejected(node, 'BAD_ATTRS'), before + 1);
    const long = await fetch(`${node.url}/v1/osmand?id=p2&lat=1&lon=1&note=${'x'.repeat(300)}`);
    assert.equal(long.status, 400);
    await long.arrayBuffer();
    const huge = await fetch(`${node.url}/v1/osmand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ device_id: 'p2', pad: 'x'.repeat(70_000) }) });
    assert.equal(huge.status, 413);
    await huge.arrayBuffer();
  });
});
