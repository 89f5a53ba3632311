import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { Topics, type LogRecord } from '../../actors/ports/partitioned-log.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { vehiclePartition } from '../../cluster/vehicle-partition.js';
import { adminHeaders, postJson, startTestNode, testFleet } from '../support/engine.js';

const PARTITIONS = 8;

/** A bound test-fleet device whose own murmur2 partition is not its vehicle's home (so placement shows). */
const BINDING = testFleet.devices.find((b) => partitionForKey(b.deviceId, PARTITIONS) !== vehiclePartition(b.vehicleId, PARTITIONS));
const DEVICE = BINDING?.deviceId ?? '';
const VEHICLE = BINDING?.vehicleId ?? '';

async function metric(node: FleetlineNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** Posts one point of DEVICE and returns the telemetry.raw record(s) it made. */
async function postAndRead(node: FleetlineNode): Promise<LogRecord[]> {
  const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: DEVICE, ts: Date.now(), lat: 55.75, lon: 37.61, speed: 30 }, await adminHeaders());
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const seen: LogRecord[] = [];
  const consumer = await node.infrastructure.bus.consume({
    groupId: 'test-placement', topic: Topics.telemetryRaw, fromBeginning: true,
    onBatch: async (b) => { seen.push(...b.records); },
  });
  try {
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await consumer.stop();
  }
  return seen;
}

async function applied(node: FleetlineNode): Promise<number> {
  for (let i = 0; i < 100 && (await metric(node, 'fleetline_points_accepted_total')) < 1; i++) await new Promise((r) => setTimeout(r, 20));
  return metric(node, 'fleetline_points_accepted_total');
}

describe('#11 the intake places a bound device\'s points in its vehicle\'s home partition (INTAKE_PLACEMENT)', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ TELEMETRY_PARTITIONS: String(PARTITIONS) });
  });
  after(async () => node.close());

  it('by default on the embedded bus, a posted point lands under the device\'s key in the vehicle\'s partition and is applied without a forward', async () => {
    assert.ok(BINDING, 'the test fleet has a device whose own partition differs from its vehicle\'s');
    const seen = await postAndRead(node);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].key, DEVICE, 'the record keeps the device id as its key');
    assert.equal(seen[0].partition, vehiclePartition(VEHICLE, PARTITIONS), 'placed in the vehicle\'s home partition');
    assert.notEqual(seen[0].partition, partitionForKey(DEVICE, PARTITIONS));

    assert.equal(await applied(node), 1, 'the vehicle applied the point');
    assert.equal(await metric(node, 'fleetline_points_forwarded_total'), 0, 'nothing was forwarded through telemetry.by-vehicle');
  });
});

describe('#11 INTAKE_PLACEMENT=device keys by device only, as outside producers do', () => {
  let node: FleetlineNode;
  before(async () => {
    node = await startTestNode({ TELEMETRY_PARTITIONS: String(PARTITIONS), INTAKE_PLACEMENT: 'device' });
  });
  after(async () => node.close());

  it('the point lands in the device\'s murmur2 partition and is forwarded to its vehicle\'s', async () => {
    const seen = await postAndRead(node);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].partition, partitionForKey(DEVICE, PARTITIONS));
    assert.equal(await applied(node), 1, 'the vehicle applied the point');
    assert.equal(await metric(node, 'fleetline_points_forwarded_total'), 1, 'forwarded once through telemetry.by-vehicle');
  });
});
