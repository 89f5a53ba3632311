import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { DeliveryHub, gatherMs, type DeliveryTarget, type Update } from '../../actors/delivery-hub.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';

const event = (vehicleId: string, ts: number): VehicleEvent => ({ id: `${vehicleId}:overspeed_start:${ts}`, vehicleId, company: 'A', type: 'overspeed_start', ts, lat: 52.5, lon: 13.4, data: { speed: 80, limit: 60 } });

function subscriber(hub: DeliveryHub, grant: ReadonlySet<string> | null): string[] {
  const ids: string[] = [];
  const t: DeliveryTarget = { grant, deliver: (_u, e) => ids.push(...e.map((x) => x.id)) };
  hub.attach(t);
  return ids;
}

describe('delivery hub: events', () => {
  it('#8 an event replayed after a hand-off or a crash (the same id again) reaches each subscriber once; other events still arrive', async () => {
    const hub = new DeliveryHub();
    const admin = subscriber(hub, null);
    const tenant = subscriber(hub, new Set(['A']));
    hub.publishEvent(event('v1', 1000));
    hub.publishEvent(event('v1', 2000));
    await turn();
    // The new owner re-applies the points since the last checkpoint: the same events again.
    hub.publishEvent(event('v1', 1000));
    hub.publishEvent(event('v1', 2000));
    hub.publishEvent(event('v1', 3000));
    await turn();
    for (const ids of [admin, tenant]) assert.deepEqual(ids, ['v1:overspeed_start:1000', 'v1:overspeed_start:2000', 'v1:overspeed_start:3000']);
  });

  it('#8 the ids it remembers are bounded: an id older than the last N events is delivered again', async () => {
    const hub = new DeliveryHub(2);
    const ids = subscriber(hub, null);
    for (const ts of [1, 2, 3]) hub.publishEvent(event('v1', ts));
    hub.publishEvent(event('v1', 3));
    hub.publishEvent(event('v1', 1));
    await turn();
    assert.deepEqual(ids, ['v1:overspeed_start:1', 'v1:overspeed_start:2', 'v1:overspeed_start:3', 'v1:overspeed_start:1']);
  });
});

describe('#9 delivery hub under load', () => {
  const moved = (id: string, lon: number, alerts?: string[]): Update => {
    const view: VehicleView = { id, company: 'A', lat: 52.5, lon, ts: lon * 1000, speed: 40, moving: true, status: 'online', ...(alerts ? { alerts } : {}) };
    return { id, company: 'A', delta: { id, lon, ...(alerts ? { alerts } : {}) }, view, receivedAt: Date.now() };
  };

  it('#9 while the flush interval is stretched, changes of several turns reach a subscriber in one call; an alarm or an event is routed at once', async () => {
    // The gathering timer is mocked: the test moves the clock, the machine's load does not.
    mock.timers.enable({ apis: ['setTimeout'] });
    const pace = { ms: 250 };
    const hub = new DeliveryHub(undefined, undefined, undefined, pace);
    const calls: string[][] = [];
    hub.attach({ grant: null, deliver: (u, e) => calls.push([...u.map((x) => x.id), ...e.map((x) => x.id)]) });
    hub.publish(moved('v1', 13.4));
    await turn();
    hub.publish(moved('v2', 13.41));
    await turn();
    assert.deepEqual(calls, [], 'gathering');
    mock.timers.tick(gatherMs(250));
    assert.deepEqual(calls, [['v1', 'v2']]);
    hub.publish(moved('v3', 13.42));
    hub.publish(moved('v4', 13.43, ['overspeed']));
    await turn();
    assert.deepEqual(calls[1], ['v3', 'v4'], 'the alarm took the gathered change along');
    hub.publishEvent(event('v1', 5000));
    await turn();
    assert.deepEqual(calls[2], ['v1:overspeed_start:5000']);
    pace.ms = 30;
    hub.publish(moved('v5', 13.44));
    await turn();
    assert.deepEqual(calls[3], ['v5'], 'not stretched: routed at the next turn');
    mock.timers.reset();
  });
});
