import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { SessionMeta, SessionRecord } from '../../actors/ports/session-store.js';
import { RecentChanges } from '../../actors/recent-changes.js';
import { planResume } from '../../actors/resume-plan.js';

const T = 1_000_000;
const SLACK = 1000;
const view = (id: string, company = 'A'): VehicleView => ({ id, company, lat: 52.5, lon: 13.4, ts: T, speed: 0, moving: false });
const ev = (id: string, vehicleId: string, company = 'A'): VehicleEvent => ({ id, vehicleId, company, type: 'alarm', ts: T, lat: 52.5, lon: 13.4 });

/** Session: client saw frames up to seq 10 (watermark T+10s); frames 11, 12 went out (an ev, a gone of v5); detached at T+20s. */
function record(over: Partial<SessionMeta> = {}): SessionRecord {
  return {
    meta: {
      id: 's', grant: ['A'], epoch: 1, seq: 12, sub: { fields: 'full' }, subscribedAt: T, floor: 1,
      marks: [[1, T], [10, T + 10_000], [12, T + 12_000]], gone: [['v5', 12], ['v6', 3]], eventsDropped: [0, 0],
      detachedAt: T + 20_000, savedAt: T + 20_000, ...over,
    },
    seen: new Set(['v1', 'v2', 'v3']),
    events: [{ seq: 4, at: T + 4000, e: ev('e-old', 'v1') }, { seq: 11, at: T + 11_000, e: ev('e-11', 'v1') }],
  };
}

function recent(): RecentChanges {
  const r = new RecentChanges(10, T - 60_000);
  const changed = (id: string, at: number) => r.updated({ id, company: 'A', delta: null, view: view(id), receivedAt: at });
  changed('v1', T + 5000); // before the watermark of 10: the client has it
  changed('v2', T + 15_000); // after: changed
  changed('v4', T + 16_000); // entered the scope while away
  r.evented(ev('e-11', 'v1'), T + 11_000); // sent in frame 11 (buffered)
  r.evented(ev('e-away', 'v2'), T + 25_000); // while away: owed
  r.evented(ev('e-other', 'v9'), T + 26_000); // a vehicle the client never had: not owed
  r.evented(ev('e-b', 'v2', 'B'), T + 27_000); // another company: never
  return r;
}

describe('#9 resume plan', () => {
  it('#9 served: vehicles changed after the watermark of the client seq or new to it (latest state, once), what left, buffered events after the seq then those delivered since the connection ended, none twice', () => {
    const scope = [view('v1'), view('v2'), view('v4')];
    const plan = planResume({ record: record(), seq: 10, scope, grant: new Set(['A']), recent: recent(), slackMs: SLACK });
    assert.ok(plan.served);
    assert.deepEqual(plan.changed.map((v) => v.id), ['v2', 'v4']);
    assert.deepEqual(plan.gone.sort(), ['v3', 'v5'], 'v3 held and out of scope; v5 left in frame 12 the client did not apply; v6 left in frame 3 it did');
    assert.deepEqual(plan.events.map((e) => e.id), ['e-11', 'e-away']);
  });

  const cases: { name: string; over?: Partial<SessionMeta>; seq: number; epoch?: number; recent?: RecentChanges; reason: string }[] = [
    { name: 'another epoch named by the client', seq: 10, epoch: 2, reason: 'EPOCH_CHANGED' },
    { name: 'a seq beyond the last one saved', seq: 13, reason: 'EPOCH_CHANGED' },
    { name: 'a seq before the subscription changed (floor)', over: { floor: 11 }, seq: 10, reason: 'GAP_TOO_LARGE' },
    { name: 'events after the seq dropped from the buffer', over: { eventsDropped: [11, T + 11_000] }, seq: 10, reason: 'GAP_TOO_LARGE' },
    { name: 'a seq older than every mark kept', over: { marks: [[11, T + 11_000]] }, seq: 10, reason: 'GAP_TOO_LARGE' },
    { name: 'a node that started after the client left', seq: 10, recent: new RecentChanges(10, T + 30_000), reason: 'GAP_TOO_LARGE' },
  ];
  for (const c of cases) {
    it(`#9 not served: ${c.name} → ${c.reason}`, () => {
      const plan = planResume({ record: record(c.over), seq: c.seq, ...(c.epoch !== undefined ? { epoch: c.epoch } : {}), scope: [view('v1')], grant: new Set(['A']), recent: c.recent ?? recent(), slackMs: SLACK });
      assert.deepEqual(plan, { served: false, reason: c.reason });
    });
  }

  it('#9 not served: the node\'s event ring dropped events the client may be owed → GAP_TOO_LARGE', () => {
    const r = new RecentChanges(2, T - 60_000);
    for (let i = 0; i < 3; i++) r.evented(ev(`e${i}`, 'v1'), T + 21_000 + i);
    assert.deepEqual(planResume({ record: record(), seq: 10, scope: [], grant: new Set(['A']), recent: r, slackMs: SLACK }), { served: false, reason: 'GAP_TOO_LARGE' });
  });
});

describe('#9 recent changes', () => {
  it('#9 the events since a time, oldest first, before and after the ring wraps', () => {
    const r = new RecentChanges(4, 0);
    const ids = (since: number) => r.eventsSince(since).map((e) => e.id);
    for (let i = 1; i <= 3; i++) r.evented(ev(`e${i}`, 'v1'), i * 10);
    assert.deepEqual(ids(0), ['e1', 'e2', 'e3']);
    assert.deepEqual(ids(15), ['e2', 'e3']);
    assert.deepEqual(ids(31), []);
    for (let i = 4; i <= 6; i++) r.evented(ev(`e${i}`, 'v1'), i * 10);
    assert.deepEqual(ids(0), ['e3', 'e4', 'e5', 'e6']);
    assert.deepEqual(ids(40), ['e4', 'e5', 'e6']);
    assert.deepEqual(ids(45), ['e5', 'e6']);
    assert.ok(!r.eventsCompleteSince(20) && r.eventsCompleteSince(21), 'complete only after the last event dropped');
  });
});
