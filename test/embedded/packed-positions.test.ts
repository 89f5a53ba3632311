import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { PackedPositions } from '../../adapters/embedded/packed-positions.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';

const points: TelemetryPoint[] = [
  { deviceId: 'd1', ts: 1_000, lat: 55.75, lon: 37.61 },
  { deviceId: 'd1', ts: 2_000, lat: -33.9, lon: 151.2, speed: 0, course: 359.9, alt: -12.5, ignition: false, fuel: 0, odometer: 123_456.7 },
  { deviceId: 'd1-spare', ts: 3_000, lat: 0, lon: 0, speed: 88.8, ignition: true, attrs: { sat: 9, driver: 'ivan', alarm: true } },
  { deviceId: 'd1', ts: 1_765_000_000_123, lat: 89.999999, lon: -179.999999, course: 0 },
];

describe('#11 the memory history keeps written positions packed', () => {
  it('a packed batch gives back each point with exactly the fields it carried, in time order per vehicle', () => {
    const packed = new PackedPositions([
      ...points.map((point) => ({ vehicleId: 'v1', point })),
      { vehicleId: 'v2', point: { deviceId: 'd2', ts: 2_500, lat: 1, lon: 2, speed: 3 } },
    ]);
    assert.equal(packed.length, 5);
    assert.equal(packed.maxTs, 1_765_000_000_123);
    const byTs = new Map<number, TelemetryPoint>();
    packed.collect('v1', 0, byTs);
    assert.deepEqual([...byTs.values()], points);
    for (const p of byTs.values()) assert.deepEqual(Object.keys(p).sort(), Object.keys(points.find((q) => q.ts === p.ts) as TelemetryPoint).sort(), `no field added or lost at ${p.ts}`);
    const later = new Map<number, TelemetryPoint>();
    packed.collect('v1', 2_000, later);
    assert.deepEqual([...later.keys()], [3_000, 1_765_000_000_123], 'only points after the given time');
  });

  it('the store replays a vehicle\'s points in order, each time once (the first written wins), and says what it forgot', async () => {
    const store = new MemoryHistoryStore({ retainMs: 60_000, maxRows: 4 });
    await store.appendPositions(points.slice(0, 2).map((point) => ({ vehicleId: 'v1', point })));
    await store.appendPositions([{ vehicleId: 'v1', point: { ...points[1], speed: 99 } }, { vehicleId: 'v1', point: points[2] }]);
    assert.deepEqual(await store.positionsAfter('v1', 0, 10), [points[0], points[1], points[2]]);
    assert.equal(store.keptAfter(), -Infinity);
    await store.appendPositions([{ vehicleId: 'v1', point: points[3] }]);
    assert.equal(store.size, 3, 'the oldest batch went over maxRows');
    assert.equal(store.keptAfter(), 2_000, 'it held points up to 2,000 ms');
    assert.deepEqual(await store.positionsAfter('v1', 0, 10), [{ ...points[1], speed: 99 }, points[2], points[3]]);
  });
});
