import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FleetlineError } from '../../actors/domain/errors.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { decodeOsmand, type OsmandPosition } from '../../engine/osmand-decoder.js';
import { adminHeaders, startTestNode, writeFleetFile } from '../support/engine.js';
import { traccarOsmandSuite, traccarSuiteDevices, type TraccarCase, type TraccarPosition } from './osmand-traccar-suite.js';

/**
 * Traccar's own OsmAnd decoder test suite (the requests and where they come from:
 * test/engine/osmand-traccar-suite.ts), decoded by Fleetline and compared field by field with
 * what Traccar decodes, then sent to a real node, on OsmAnd's port and on /v1/osmand.
 */

function requestOf(c: TraccarCase): { query: URLSearchParams; body: Buffer; contentType: string | undefined } {
  const q = c.uri.indexOf('?');
  return { query: new URLSearchParams(q < 0 ? '' : c.uri.slice(q + 1)), body: Buffer.from(c.body ?? ''), contentType: c.contentType };
}

/** Fleetline's decoding with Traccar's defaults filled in (0 for what a request leaves unset). */
function asTraccar(p: OsmandPosition): TraccarPosition {
  return {
    uniqueId: p.uniqueId,
    valid: p.valid,
    // No timestamp: the server stamps the report when it takes it (engine/osmand.ts).
    time: p.time ?? 'now',
    latitude: p.outdated ? 'last' : (p.latitude as number),
    longitude: p.outdated ? 'last' : (p.longitude as number),
    altitude: p.altitude ?? 0,
    speed: p.speed ?? 0,
    course: p.course ?? 0,
    accuracy: p.accuracy ?? 0,
    attributes: p.attributes,
    ...(p.network ? { network: p.network } : {}),
  };
}

describe('#10 OsmAnd: Traccar\'s decoder test suite (OsmAndProtocolDecoderTest.java @ 24157c0a)', () => {
  it('#10 the suite holds all 15 requests: 4 JSON, 11 query', () => {
    assert.equal(traccarOsmandSuite.length, 15);
    assert.equal(traccarOsmandSuite.filter((c) => c.contentType === 'application/json').length, 4);
  });

  for (const c of traccarOsmandSuite) {
    it(`#10 decodes as Traccar: ${c.source}`, () => {
      if (c.expected === null) {
        assert.throws(() => decodeOsmand(requestOf(c)), (e: unknown) => e instanceof FleetlineError && e.code === 'BAD_QUERY');
        return;
      }
      assert.deepEqual(asTraccar(decodeOsmand(requestOf(c))), c.expected);
    });
  }
});

describe('#10 OsmAnd: Traccar\'s suite against a real node (OSMAND_PORT and /v1/osmand)', () => {
  let node: FleetlineNode;
  let headers: Record<string, string>;
  const vehicleOf = (deviceId: string) => `v-${deviceId}`;

  before(async () => {
    const fleet = {
      companies: [{ id: 'T', name: 'Traccar suite', active: true }],
      vehicles: traccarSuiteDevices.map((d) => ({ id: vehicleOf(d), companyId: 'T', name: d })),
      devices: traccarSuiteDevices.map((d) => ({ deviceId: d, vehicleId: vehicleOf(d) })),
    };
    node = await startTestNode({ FLEET_FILE: writeFleetFile(fleet) });
    headers = await adminHeaders();
  });
  after(async () => node.close());

  const send = (base: string, c: TraccarCase) => fetch(`${base}${c.uri}`, {
    method: c.method, ...(c.body !== undefined ? { body: c.body } : {}), ...(c.contentType ? { headers: { 'content-type': c.contentType } } : {}),
  });

  async function view(id: string, ready: (v: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    let last: Record<string, unknown> | undefined;
    for (let i = 0; i < 400; i++) {
      const r = await fetch(`${node.url}/v1/vehicles/${id}`, { headers });
      if (r.status === 200) {
        last = (await r.json()) as Record<string, unknown>;
        if (ready(last)) return last;
      } else await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.fail(`vehicle ${id} never got there; last view: ${JSON.stringify(last)}`);
  }

  it('#10 every request is accepted on OsmAnd\'s own port (the one without a device id answers 400, as Traccar)', async () => {
    assert.ok(node.osmandPort !== null && node.osmandPort > 0);
    for (const c of traccarOsmandSuite) {
      const res = await send(`http://127.0.0.1:${node.osmandPort}`, c);
      assert.equal(res.status, c.expected === null ? 400 : 200, `${c.source}: ${await res.text()}`);
    }
  });

  it('#10 the vehicles show what the suite reported: position, km/h, course, attributes under Traccar\'s names', async () => {
    const ignition = await view(vehicleOf('123456789012345'), (v) => v.ts === 1504763810000);
    assert.equal(ignition.lat, 40.7232948571);
    assert.equal(ignition.lon, -74.0061408571);
    assert.equal(ignition.speed, 74.1, '40 knots');
    assert.equal(ignition.course, 7.2);
    assert.equal(ignition.ignition, true);
    assert.equal(ignition.fuel, 24);
    assert.deepEqual(ignition.attrs, { ignition: true, rpm: 933, fuel: 24 });

    const json = await view(vehicleOf('8737767034'), (v) => v.ts === Date.parse('2021-07-21T08:06:34.444Z'));
    assert.equal(json.lat, -6.1148096);
    assert.equal(json.speed, 67.2, '18.67 m/s');
    assert.equal(json.course, 63);
    assert.equal(json.alt, 35.7);
    assert.deepEqual(json.attrs, { event: 'motionchange', motion: false, odometer: 0, activity: 'still', batteryLevel: 79, accuracy: 3.8 });

    const extras = await view(vehicleOf('48241179'), (v) => v.ts === Date.parse('2025-06-15T13:45:12.862Z'));
    assert.equal(extras.course, undefined, 'heading -1 is no heading');
    assert.deepEqual(extras.attrs, { event: 'motionchange', motion: false, odometer: 0, activity: 'still', batteryLevel: 100, accuracy: 5 });

    const plainTime = await view(vehicleOf('353861053849681'), (v) => v.ts === Date.parse('2014-06-04T09:10:11Z'));
    assert.equal(plainTime.alt, 384.7);
    const battery = await view(vehicleOf('861001000719969'), (v) => v.attrs !== undefined);
    assert.deepEqual(battery.attrs, { batteryLevel: 87 });
    const iso = await view(vehicleOf('902064'), (v) => v.ts === Date.parse('2016-01-27T18:55:47Z'));
    assert.deepEqual(iso.attrs, { hdop: 6 });
    const noTimestamp = await view(vehicleOf('123456'), (v) => (v.ts as number) > Date.parse('2026-01-01'));
    assert.deepEqual(noTimestamp.attrs, { vacc: 0, hacc: 0 });
  });

  it('#10 every request is accepted on /v1/osmand as well', async () => {
    for (const c of traccarOsmandSuite) {
      const res = await send(`${node.url}/v1/osmand`, { ...c, uri: c.uri.slice(1) });
      assert.equal(res.status, c.expected === null ? 400 : 200, `${c.source}: ${await res.text()}`);
    }
  });
});
