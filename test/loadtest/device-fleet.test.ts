import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceFleet, splitDevices, type DevicePlan } from '../../loadtest/harness/device-fleet.js';
import type { RawPoint } from '../../engine/simulator/route-simulator.js';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

function plan(over: Partial<DevicePlan> = {}): DevicePlan {
  return {
    seed: 11, firstDevice: 1, devices: 200, intervalMs: 1000, slotMs: 100,
    badRatio: 0.02, duplicateRatio: 0.02, silentRatio: 0.05, silentAfterMs: 30_000, ...over,
  };
}

/** Drives a fleet on a virtual clock for `seconds`, taking every slot when due. */
function drive(fleet: DeviceFleet, seconds: number): RawPoint[] {
  const out: RawPoint[] = [];
  for (let due = fleet.nextDue(); due < seconds * 1000; due = fleet.nextDue()) out.push(...fleet.take(T0 + due, due).points);
  return out;
}

describe('load-test devices (#11)', () => {
  it('#11 the same seed gives the same points, another seed other points', () => {
    const a = drive(new DeviceFleet(plan()), 60);
    const b = drive(new DeviceFleet(plan()), 60);
    const c = drive(new DeviceFleet(plan({ seed: 12 })), 60);
    assert.ok(a.length > 10_000);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.slice(-200), c.slice(-200));
  });

  it('#11 a device sends the same points whichever worker slice it is in', () => {
    const whole = drive(new DeviceFleet(plan()), 40);
    const parts = splitDevices(200, 3).flatMap((s) => drive(new DeviceFleet(plan(s)), 40));
    const byDevice = (pts: RawPoint[]): Map<string, RawPoint[]> => {
      const m = new Map<string, RawPoint[]>();
      for (const p of pts) {
        const list = m.get(p.deviceId);
        if (list) list.push(p);
        else m.set(p.deviceId, [p]);
      }
      return m;
    };
    const w = byDevice(whole);
    const p = byDevice(parts);
    assert.equal(p.size, 200);
    // Slots differ between the splits (so do the send times): positions must not.
    for (const [id, pts] of w) assert.deepEqual(p.get(id)!.map((x) => [x.lat, x.lon, x.odometer]), pts.map((x) => [x.lat, x.lon, x.odometer]), id);
  });

  it('#11 sends each device once per interval, spread over the interval, with bad and doubled points', () => {
    const fleet = new DeviceFleet(plan({ silentRatio: 0 }));
    const firstSecond: number[] = [];
    for (let due = fleet.nextDue(); due < 1000; due = fleet.nextDue()) {
      firstSecond.push(due);
      fleet.take(T0 + due, due);
    }
    assert.equal(firstSecond.length, 10, 'ten slots 100 ms apart');
    const pts = drive(new DeviceFleet(plan({ silentRatio: 0 })), 50);
    const bad = pts.filter((p) => p.lat > 90).length;
    const doubled = pts.filter((p, i) => i > 0 && pts[i - 1] === p).length;
    // 200 devices x 50 s, 2 % each: about 200 of either.
    assert.ok(bad > 100 && bad < 300, `bad ${bad}`);
    assert.ok(doubled > 100 && doubled < 300, `doubled ${doubled}`);
    assert.equal(pts.length - doubled, 200 * 50);
  });

  it('#11 devices that go silent send nothing after silentAfter, the others keep going', () => {
    const fleet = new DeviceFleet(plan({ badRatio: 0, duplicateRatio: 0, silentRatio: 0.1, silentAfterMs: 10_000 }));
    const before = new Set<string>();
    const after = new Set<string>();
    for (let due = fleet.nextDue(); due < 20_000; due = fleet.nextDue()) {
      for (const p of fleet.take(T0 + due, due).points) (due < 10_000 ? before : after).add(p.deviceId);
    }
    assert.equal(before.size, 200);
    assert.equal(after.size, 200 - fleet.silentDevices());
    assert.ok(fleet.silentDevices() > 5 && fleet.silentDevices() < 40, `${fleet.silentDevices()} silent`);
  });
});

describe('load-test sending (#11)', () => {
  it('#11 points are stamped when they leave, strictly increasing per device, a doubled point keeps one stamp', async () => {
    const { stamp } = await import('../../loadtest/harness/device-worker.js');
    const point = (n: number, ts: number): RawPoint => ({ deviceId: `dev-${n}`, ts, lat: 52.5, lon: 13.4, speed: 0, course: 0, ignition: false, fuel: 10, odometer: 1 });
    const last = new Float64Array(3);
    const a = point(11, T0);
    // dev-11 twice from two rounds queued together, then a doubled point of dev-12.
    const batch = [a, point(11, T0 + 1000), point(12, T0), point(12, T0)];
    batch[3] = batch[2];
    const before = Date.now();
    stamp(batch, last, 10);
    assert.ok(batch[0].ts >= before, 'stamped with the send time, not the make time');
    assert.ok(batch[1].ts > batch[0].ts, 'strictly increasing per device');
    assert.equal(batch[3].ts, batch[2].ts, 'the doubled point stays a duplicate');
    assert.equal(last[1], batch[1].ts);
  });
});
