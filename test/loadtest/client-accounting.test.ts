import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { LatencyTimeline } from '../../loadtest/harness/latency-timeline.js';
import { LoadClient } from '../../loadtest/harness/load-client.js';
import { compareState, lostUpdates } from '../../loadtest/harness/state-comparison.js';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const frame = (v: Record<string, unknown>): Buffer => Buffer.from(encodeMsgpack(v));

function client(latency = new LatencyTimeline()): LoadClient {
  const c = new LoadClient(0, { kind: 'company', companies: ['acme'] }, latency);
  c.receive(frame({ t: 'snap', seq: 1, vehicles: [{ id: 'veh-1', ts: T0, lat: 52.5, lon: 13.4 }, { id: 'veh-2', ts: T0, lat: 52.5, lon: 13.4 }] }), T0 + 5);
  return c;
}

describe('load-test measurement (#11)', () => {
  it('#11 a known delay between send and receipt shows up in the percentiles', () => {
    const latency = new LatencyTimeline();
    const c = client(latency);
    // 900 deliveries received 40 ms after their send time, 90 after 250 ms, 10 after 1200 ms.
    let seq = 1;
    let ts = T0;
    const deliver = (count: number, delayMs: number): void => {
      for (let i = 0; i < count; i++) {
        ts += 1000;
        c.receive(frame({ t: 'd', seq: ++seq, u: [{ id: 'veh-1', ts, lat: 52.51 }] }), ts + delayMs);
      }
    };
    deliver(900, 40);
    deliver(90, 250);
    deliver(10, 1200);
    const s = latency.summary();
    assert.equal(s.count, 1000);
    assert.equal(s.p50, 40);
    assert.equal(s.p90, 40);
    assert.equal(s.p99, 250);
    assert.ok(Math.abs(s.p999 - 1200) <= 1, `p99.9 ${s.p999}`);
    assert.ok(Math.abs(s.max - 1200) <= 1, `max ${s.max}`);
    // The snapshot is held state, not a delivery: it is not counted.
    assert.equal(c.counts.updates, 1000);
    assert.equal(c.state.get('veh-1'), ts);
  });

  it('#11 deliveries during the warm-up are plotted per interval but left out of the summary', () => {
    const latency = new LatencyTimeline(false);
    latency.record(5000);
    assert.ok(Math.abs(latency.roll(1).p50 - 5000) <= 5, 'within the histogram\'s 3 significant digits');
    latency.startCounting();
    latency.record(30);
    assert.equal(latency.summary().count, 1);
    assert.equal(latency.summary().max, 30);
    assert.equal(latency.delivered, 2);
  });

  it('#11 a dropped update is reported: a seq gap, and the vehicle stale against the engine', () => {
    const c = client();
    c.receive(frame({ t: 'd', seq: 2, u: [{ id: 'veh-1', ts: T0 + 1000 }] }), T0 + 1030);
    // seq 3 (veh-2 moving to T0 + 2000) is lost on the way.
    c.receive(frame({ t: 'd', seq: 4, u: [{ id: 'veh-1', ts: T0 + 3000 }] }), T0 + 3030);
    assert.equal(c.counts.seqGaps, 1);
    const diff = compareState(c.state, [{ id: 'veh-1', ts: T0 + 3000 }, { id: 'veh-2', ts: T0 + 2000 }]);
    assert.deepEqual(diff.stale, ['veh-2']);
    assert.equal(diff.matched, 1);
    assert.equal(lostUpdates(diff), 1);
  });

  it('#11 a lost entering vehicle, a lost gone and a doubled delivery are each reported', () => {
    const c = client();
    c.receive(frame({ t: 'd', seq: 2, u: [{ id: 'veh-1', ts: T0 + 1000 }] }), T0 + 1030);
    c.receive(frame({ t: 'd', seq: 3, u: [{ id: 'veh-1', ts: T0 + 1000 }] }), T0 + 1060);
    c.receive(frame({ t: 'd', seq: 3, u: [{ id: 'veh-1', ts: T0 + 500 }] }), T0 + 1090);
    assert.equal(c.counts.duplicates, 1);
    assert.equal(c.counts.regressions, 1);
    assert.equal(c.counts.seqRepeats, 1);
    // The engine no longer has veh-2 in scope (its gone was lost) and has veh-3 (its entry was lost).
    const diff = compareState(c.state, [{ id: 'veh-1', ts: T0 + 500 }, { id: 'veh-3', ts: T0 }]);
    assert.deepEqual(diff.missing, ['veh-3']);
    assert.deepEqual(diff.extra, ['veh-2']);
    assert.equal(lostUpdates(diff), 2);
  });

  it('#11 a client whose state equals the engine\'s reports nothing lost', () => {
    const c = client();
    c.receive(frame({ t: 'gone', seq: 2, ids: ['veh-2'] }), T0 + 10);
    const diff = compareState(c.state, [{ id: 'veh-1', ts: T0 }]);
    assert.equal(lostUpdates(diff), 0);
    assert.equal(diff.matched, 1);
    assert.equal(c.counts.seqGaps + c.counts.seqRepeats, 0);
  });
});
