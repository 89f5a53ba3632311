import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { DeliveryHub, type DeliveryTarget } from '../../actors/delivery-hub.js';
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
