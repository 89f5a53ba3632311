import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes, ErrorCodes } from '../../actors/domain/errors.js';
import { CloseCode, StreamErrorCode, streamUrl } from '../../packages/client/src/index.js';
import { Backoff } from '../../packages/client/src/backoff.js';
import { EventStream } from '../../packages/client/src/event-stream.js';
import { RateMeter } from '../../packages/client/src/rate-meter.js';
import { VehicleStore } from '../../packages/client/src/vehicle-store.js';
import type { VehicleEvent, VehicleState } from '../../packages/client/src/protocol.js';

const v = (id: string, lat = 52.5): VehicleState => ({ id, company: 'A', lat, lon: 13.4, ts: 1, speed: 0, moving: false });
const e = (id: string): VehicleEvent => ({ id, vehicleId: 'v1', company: 'A', type: 'alarm', ts: 1, lat: 0, lon: 0 });

describe('#9 @fleetline/client parts', () => {
  it('#9 the SDK knows every close code and stream error code of the server', () => {
    for (const code of Object.values(CloseCodes)) assert.ok((Object.values(CloseCode) as number[]).includes(code), `close code ${code} missing in the SDK`);
    // errors.ts declares the WebSocket protocol's codes together, from BAD_FRAME to SLOW_CLIENT
    const codes = Object.keys(ErrorCodes);
    const ws = codes.slice(codes.indexOf('BAD_FRAME'), codes.indexOf('SLOW_CLIENT') + 1);
    assert.ok(ws.length >= 8, ws.join());
    for (const code of ws) assert.ok((Object.values(StreamErrorCode) as string[]).includes(code), `${code} missing in the SDK`);
  });

  it('#9 the vehicle store merges deltas in place, replaces on a snapshot, ignores unknown gone ids, and reports each changed id once', () => {
    const store = new VehicleStore();
    store.replace([v('a'), v('b')]);
    assert.deepEqual(store.takeChanges(), { upserted: new Set(['a', 'b']), removed: new Set() });
    store.merge([{ id: 'a', lat: 52.6, attrs: { fuel: 3 } }, { id: 'a', speed: 20 }, v('c')]);
    assert.deepEqual(store.vehicles.get('a'), { ...v('a'), lat: 52.6, speed: 20, attrs: { fuel: 3 } });
    store.merge([{ id: 'a', attrs: { rpm: 900 } }]);
    assert.deepEqual(store.vehicles.get('a')?.attrs, { rpm: 900 }, 'attrs arrive whole and replace');
    store.remove(['b', 'never-had']);
    assert.deepEqual(store.takeChanges(), { upserted: new Set(['a', 'c']), removed: new Set(['b']) });
    store.replace([v('c', 1)]);
    assert.deepEqual([...store.vehicles.keys()], ['c']);
    assert.deepEqual(store.takeChanges(), { upserted: new Set(['c']), removed: new Set(['a']) });
    store.merge([{ id: 'z', lat: 1 } as VehicleState]);
    store.remove(['z']);
    assert.deepEqual(store.takeChanges(), { upserted: new Set(), removed: new Set(['z']) }, 'added then removed within a frame: removed');
  });

  it('#9 backoff grows exponentially to its cap with jitter, and starts again after a reset', () => {
    const low = new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 1);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [100, 200, 400, 800, 1000]);
    high.reset();
    assert.equal(high.next(), 100);
  });

  it('#9 the rate meter counts per second over the last whole seconds', () => {
    let now = 10_000;
    const m = new RateMeter(5, () => now);
    m.add(10);
    assert.equal(m.rate, 0, 'no whole second yet');
    now += 1000;
    m.add(30);
    assert.equal(m.rate, 10);
    now += 1000;
    assert.equal(m.rate, 20);
    now += 10_000;
    assert.equal(m.rate, 0, 'silence empties the window');
  });

  it('#9 the event stream delivers each event id once, to listeners and iterators', async () => {
    const s = new EventStream(2);
    const heard: string[] = [];
    s.on((x) => heard.push(x.id));
    const it = s.iterate();
    assert.equal(s.push([e('1'), e('2'), e('1')]), 2);
    assert.equal(s.push([e('2'), e('3')]), 1);
    assert.deepEqual(heard, ['1', '2', '3']);
    assert.deepEqual([(await it.next()).value?.id, (await it.next()).value?.id, (await it.next()).value?.id], ['1', '2', '3']);
    s.close();
    assert.equal((await it.next()).done, true);
  });

  it('#9 the stream URL is derived from the engine\'s base URL', () => {
    assert.equal(streamUrl('http://localhost:8080'), 'ws://localhost:8080/v1/stream');
    assert.equal(streamUrl('https://fleet.example/base/'), 'wss://fleet.example/base/v1/stream');
    assert.equal(streamUrl('ws://h:1/v1/stream?x=1'), 'ws://h:1/v1/stream?x=1');
    assert.throws(() => streamUrl('ftp://x'), TypeError);
  });
});
