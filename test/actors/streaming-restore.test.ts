import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamingRestore } from '../../actors/streaming-restore.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

const snap = (vehicleId: string, ts = 1): VehicleSnapshot => ({
  vehicleId, deviceId: `dev-${vehicleId}`, partition: 0, accepted: 1, recent: [],
  view: { id: vehicleId, company: 'A', lat: 52.5, lon: 13.4, ts, speed: 0, moving: false },
} as unknown as VehicleSnapshot);

describe('#8 StreamingRestore: vehicles whose points come before their snapshot', () => {
  it('#8 the vehicles that start waiting in the same turn share one lookup; one it does not find has no snapshot', async () => {
    const calls: string[][] = [];
    const restore = new StreamingRestore({ loadMany: async (ids) => { calls.push([...ids]); return ids.filter((id) => id !== 'veh-new').map((id) => snap(id)); } });
    const [a, b, c] = await Promise.all(['veh-1', 'veh-2', 'veh-new'].map((id) => restore.snapshotOf(id)));
    assert.deepEqual(calls, [['veh-1', 'veh-2', 'veh-new']]);
    assert.equal(a?.vehicleId, 'veh-1');
    assert.equal(b?.vehicleId, 'veh-2');
    assert.equal(c, undefined);
    assert.equal(restore.size, 0);
  });

  it('#8 a page that comes before the lookup answers settles the vehicle; the later answer changes nothing', async () => {
    let answer!: (s: VehicleSnapshot[]) => void;
    const restore = new StreamingRestore({ loadMany: () => new Promise((r) => { answer = r; }) });
    const waiting = restore.snapshotOf('veh-1');
    await new Promise((r) => setImmediate(r));
    restore.arrived('veh-1', snap('veh-1', 2));
    assert.equal((await waiting)?.view.ts, 2, 'from its page');
    answer([snap('veh-1', 1)]);
    await new Promise((r) => setImmediate(r));
    assert.equal(restore.size, 0);
  });

  it('#8 a failed lookup is tried again while the vehicle waits; without lookups it waits for the end of the restore', async () => {
    let attempts = 0;
    const retried = new StreamingRestore({ retryMs: 1, loadMany: async (ids) => {
      if (++attempts < 3) throw new Error('store down');
      return ids.map((id) => snap(id));
    } });
    assert.equal((await retried.snapshotOf('veh-1'))?.vehicleId, 'veh-1');
    assert.equal(attempts, 3);

    const pagesOnly = new StreamingRestore({});
    const waiting = pagesOnly.snapshotOf('veh-2');
    await new Promise((r) => setImmediate(r));
    assert.equal(pagesOnly.size, 1, 'still waiting');
    pagesOnly.finish();
    assert.equal(await waiting, undefined, 'no page had it: it starts afresh');
  });
});
