import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { decode } from '@msgpack/msgpack';
import { dispatch, start, stop, type Ref } from 'nact';
import { DeliveryHub, type Update } from '../../actors/delivery-hub.js';
import { sendableClasses } from '../../actors/delivery-priority.js';
import { PendingBatch } from '../../actors/pending-batch.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { spawnSubscriber, type SubscriberMsg, type SubscriberOptions } from '../../actors/subscriber-actor.js';
import { diff } from '../../actors/vehicle-logic.js';
import { NO_GROUPS } from '../../actors/subscription.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import type { ClientConnection, Session } from '../../actors/ports/client-connection.js';
import type { FrameEncoder } from '../../actors/ports/frame-encoder.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { msgpackFrameEncoder } from '../../adapters/codec/frame-assembly.js';

type Frame = Record<string, unknown> & { t: string };
type Entry = Record<string, unknown> & { id: string };

const MAX_BUFFERED = 100_000;
/** Timers that never fire within a test: every flush here is dispatched by the test (as a transport's drain does). */
const NEVER = 3_600_000;

const view = (id: string, lon: number, lat: number, more: Partial<VehicleView> = {}): VehicleView =>
  ({ id, company: 'A', lon, lat, ts: 1, speed: 0, moving: false, status: 'online', ...more });

/** Counts the entries it encodes: encode-once is asserted by these counts. */
class CountingEncoder implements FrameEncoder {
  entries = 0;
  entry(value: unknown): Uint8Array {
    this.entries++;
    return msgpackFrameEncoder.entry(value);
  }

  deltaFrame(seq: number, entries: readonly Uint8Array[]): Uint8Array {
    return msgpackFrameEncoder.deltaFrame(seq, entries);
  }
}

/** The fleet side: a state index and a hub, changed as a partition shard changes them. */
class Fleet {
  readonly index = new SpatialStateIndex();
  readonly hub = new DeliveryHub();
  private ts = 1;

  change(v: VehicleView): Update {
    const next = { ...v, ts: ++this.ts };
    const prev = this.index.get(next.id) ?? null;
    this.index.upsert(next, prev === null || prev.lat !== next.lat || prev.lon !== next.lon);
    const u: Update = { id: next.id, company: next.company, delta: diff(prev, next), view: next, receivedAt: Date.now() };
    this.hub.publish(u);
    return u;
  }

  event(vehicleId: string, type: string, n: number): void {
    const e = { id: `${vehicleId}:${type}:${n}`, vehicleId, company: 'A', type, ts: this.ts, lat: 0, lon: 0 } as unknown as VehicleEvent;
    this.hub.publishEvent(e);
  }
}

/** One real subscriber actor; its WebSocket is a recorder of strictly decoded frames with a settable backlog. */
class Client {
  readonly frames: Frame[] = [];
  buffered = 0;
  private ref!: Ref<SubscriberMsg>;
  private waiters: (() => void)[] = [];

  constructor(private readonly system: Ref<unknown>, private readonly fleet: Fleet, private readonly options: Partial<SubscriberOptions> = {}, private readonly frames_?: FrameEncoder) {}

  open(name: string): this {
    const conn: ClientConnection = {
      send: (bytes) => {
        this.frames.push(decode(bytes) as Frame);
        for (const w of this.waiters.splice(0)) w();
        return this.buffered === 0;
      },
      bufferedAmount: () => this.buffered,
      close: () => {},
    };
    this.ref = spawnSubscriber(this.system, name, conn, {
      index: this.fleet.index, hub: this.fleet.hub, membership: NO_GROUPS, metrics: noMetrics,
      encode: encodeMsgpack, decode: (b) => JSON.parse(Buffer.from(b).toString('utf8')),
      ...(this.frames_ ? { frames: this.frames_ } : {}),
      verifier: {
        verify: async () => null,
        verifySession: async (): Promise<Session> => ({ grant: null, expiresAt: Date.now() + 3_600_000 }),
      },
      options: {
        flushMs: NEVER, stoppedFlushMs: NEVER, clusterFlushMs: NEVER, maxBufferedBytes: MAX_BUFFERED, maxQueuedBytes: 1 << 30,
        maxFramesPerSecond: 10_000, authTimeoutMs: 5000, snapshotLimit: 1000, ...this.options,
      },
    });
    dispatch(this.ref, { kind: 'open', token: 'admin' });
    return this;
  }

  /** Everything published so far reached the actor, which answered a ping after it (no flush). */
  async settle(): Promise<void> {
    await turn();
    const pongs = this.frames.filter((f) => f.t === 'pong').length;
    dispatch(this.ref, { kind: 'frame', data: Buffer.from(JSON.stringify({ t: 'ping' })), isBinary: false });
    while (this.frames.filter((f) => f.t === 'pong').length === pongs) await new Promise<void>((r) => this.waiters.push(r));
  }

  async flush(): Promise<void> {
    await this.settle();
    dispatch(this.ref, { kind: 'flush' });
    await this.settle();
  }

  async sub(frame: Record<string, unknown>): Promise<void> {
    await this.settle();
    dispatch(this.ref, { kind: 'frame', data: Buffer.from(JSON.stringify({ t: 'sub', ...frame })), isBinary: false });
    await this.settle();
  }

  /** Frames after `from` other than pong. */
  since(from: number): Frame[] {
    return this.frames.slice(from).filter((f) => f.t !== 'pong');
  }

  /** The entries of vehicle `id` in d frames after `from`. */
  entriesOf(id: string, from: number): Entry[] {
    return this.since(from).filter((f) => f.t === 'd').flatMap((f) => (f.u as Entry[]).filter((u) => u.id === id));
  }

  close(): void {
    dispatch(this.ref, { kind: 'closed' });
  }
}

let system: Ref<unknown>;
let n = 0;
before(() => { system = start(); });
after(() => stop(system));

const MOVING = { moving: true, speed: 40 };

describe('#9 priorities: events and alarms at once, moving batched, stopped slower and first to wait', () => {
  it('#9 events and alarm changes go out at once, before the flush; moving deltas wait for it', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    fleet.change(view('a', 10.1, 50, MOVING));
    const c = new Client(system, fleet).open(`prio-${++n}`);
    await c.sub({});
    const from = c.frames.length;
    fleet.change(view('m', 10.001, 50, MOVING));
    fleet.change(view('a', 10.101, 50, { ...MOVING, alerts: ['alarm'] }));
    fleet.event('a', 'alarm', 1);
    await c.settle();
    assert.deepEqual(c.since(from).map((f) => f.t), ['ev', 'd'], 'the event and the alarm left without a flush');
    assert.deepEqual(c.entriesOf('a', from).map((u) => u.alerts), [['alarm']]);
    assert.equal(c.entriesOf('m', from).length, 0, 'the moving vehicle waits for the flush');
    await c.flush();
    assert.deepEqual(c.entriesOf('m', from).map((u) => u.lon), [10.001]);
    c.close();
  });

  it('#9 every event goes out, none coalesced, while position deltas of one vehicle coalesce to the latest', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    const c = new Client(system, fleet).open(`prio-${++n}`);
    await c.sub({});
    const from = c.frames.length;
    for (let i = 1; i <= 5; i++) {
      fleet.change(view('m', 10 + i / 1000, 50, MOVING));
      fleet.event('m', 'overspeed', i);
    }
    await c.flush();
    const events = c.since(from).filter((f) => f.t === 'ev').flatMap((f) => f.e as { id: string }[]);
    assert.deepEqual(events.map((e) => e.id), [1, 2, 3, 4, 5].map((i) => `m:overspeed:${i}`));
    assert.deepEqual(c.entriesOf('m', from).map((u) => u.lon), [10.005], 'one entry, the latest position');
    c.close();
  });

  it('#9 stopped vehicles go out at their slower rate: after their first batch, later changes wait while moving ones flow', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    fleet.change(view('s', 11, 50));
    const c = new Client(system, fleet).open(`prio-${++n}`);
    await c.sub({});
    const from = c.frames.length;
    fleet.change(view('m', 10.001, 50, MOVING));
    fleet.change(view('s', 11, 50, { fuel: 50 }));
    await c.flush();
    assert.equal(c.entriesOf('s', from).length, 1, 'the first stopped batch is due at once');
    const next = c.frames.length;
    fleet.change(view('m', 10.002, 50, MOVING));
    fleet.change(view('s', 11, 50, { fuel: 49 }));
    fleet.change(view('s', 11, 50, { fuel: 48 }));
    await c.flush();
    assert.deepEqual(c.entriesOf('m', next).map((u) => u.lon), [10.002]);
    assert.equal(c.entriesOf('s', next).length, 0, 'the stopped vehicle waits for its own timer');
    const stop = c.frames.length;
    fleet.change(view('m', 10.002, 50, { moving: false, speed: 0 }));
    await c.flush();
    assert.deepEqual(c.entriesOf('m', stop).map((u) => u.moving), [false], 'the delta in which a vehicle stops goes with the moving batch');
    c.close();
  });

  it('#9 under backpressure stopped vehicles give way first, then moving ones; events and alarms still go out; all catch up with the latest', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    fleet.change(view('s', 11, 50));
    fleet.change(view('a', 12, 50, MOVING));
    const c = new Client(system, fleet, { stoppedFlushMs: 1 }).open(`prio-${++n}`);
    await c.sub({});
    let from = c.frames.length;
    c.buffered = MAX_BUFFERED * 0.75;
    fleet.change(view('m', 10.001, 50, MOVING));
    fleet.change(view('s', 11, 50, { fuel: 50 }));
    await new Promise((r) => setTimeout(r, 5)); // the stopped timer (1 ms) is due: only the backlog holds them
    await c.flush();
    assert.deepEqual(c.entriesOf('m', from).map((u) => u.lon), [10.001], 'moving vehicles still flow above half the limit');
    assert.equal(c.entriesOf('s', from).length, 0, 'stopped ones wait');

    from = c.frames.length;
    c.buffered = MAX_BUFFERED * 2;
    fleet.change(view('m', 10.002, 50, MOVING));
    fleet.change(view('s', 11, 50, { fuel: 49 }));
    fleet.change(view('a', 12.001, 50, { ...MOVING, alerts: ['overspeed'] }));
    fleet.event('a', 'overspeed', 1);
    await c.flush();
    assert.deepEqual(c.since(from).map((f) => f.t), ['ev', 'd'], 'only the event and the alarm');
    assert.deepEqual(c.entriesOf('a', from).map((u) => u.alerts), [['overspeed']]);

    from = c.frames.length;
    c.buffered = 0;
    await c.flush();
    assert.deepEqual(c.entriesOf('m', from).map((u) => u.lon), [10.002]);
    assert.deepEqual(c.entriesOf('s', from).map((u) => u.fuel), [49], 'the stopped vehicle, coalesced to its latest');
    c.close();
  });

  it('#9 the send plan by backlog: everything, moving only above half the limit, nothing batched above it', () => {
    assert.deepEqual([...(sendableClasses(0, 100, true) ?? [])], ['moving', 'stopped']);
    assert.deepEqual([...(sendableClasses(0, 100, false) ?? [])], ['moving']);
    assert.deepEqual([...(sendableClasses(60, 100, true) ?? [])], ['moving']);
    assert.equal(sendableClasses(101, 100, true), null);
  });

  it('#9 a pending entry keeps the alarm priority when later moving deltas merge into it', () => {
    const fleet = new Fleet();
    fleet.change(view('a', 10, 50, MOVING));
    const batch = new PendingBatch();
    batch.change(fleet.change(view('a', 10.1, 50, { ...MOVING, alerts: ['alarm'] })), 'full');
    batch.change(fleet.change(view('a', 10.2, 50, { ...MOVING, alerts: ['alarm'] })), 'full');
    assert.equal(batch.count('urgent'), 1);
    const [e] = batch.takeUrgent();
    assert.equal(e.single, null, 'merged: this client\'s own entry');
    assert.deepEqual([e.merged?.lon, e.merged?.alerts], [10.2, ['alarm']]);
  });
});

describe('#9 encode once: one change, one encode, shared by every client', () => {
  it('#9 three clients receiving the same change cost one encode per form; a merged entry is encoded for its client only', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    fleet.change(view('k', 10.5, 50, MOVING));
    const encoder = new CountingEncoder();
    const clients = [0, 1, 2].map(() => new Client(system, fleet, {}, encoder).open(`once-${++n}`));
    const minClient = new Client(system, fleet, {}, encoder).open(`once-${++n}`);
    for (const c of clients) await c.sub({});
    await minClient.sub({ fields: 'min' });
    const from = clients.map((c) => c.frames.length);
    const minFrom = minClient.frames.length;
    fleet.change(view('m', 10.001, 50, { ...MOVING, name: 'renamed' }));
    for (const c of [...clients, minClient]) await c.flush();
    assert.equal(encoder.entries, 2, 'one full and one min encode for four clients');
    for (const [i, c] of clients.entries()) assert.deepEqual(c.entriesOf('m', from[i]), [{ id: 'm', lon: 10.001, ts: 4, name: 'renamed' }]);
    assert.deepEqual(minClient.entriesOf('m', minFrom), [{ id: 'm', lon: 10.001, ts: 4 }], 'min leaves the name out');

    encoder.entries = 0;
    const again = clients.map((c) => c.frames.length);
    fleet.change(view('k', 10.501, 50, MOVING));
    await clients[0].settle();
    fleet.change(view('k', 10.502, 50, { ...MOVING, speed: 41 }));
    for (const c of clients) await c.flush();
    assert.equal(encoder.entries, 1, 'the newer change sets every field of the older: it stands for both, encoded once for all');
    for (const [i, c] of clients.entries()) assert.deepEqual(c.entriesOf('k', again[i]), [{ id: 'k', lon: 10.502, ts: 6, speed: 41 }]);

    encoder.entries = 0;
    const third = clients.map((c) => c.frames.length);
    fleet.change(view('k', 10.503, 50, { ...MOVING, speed: 41, name: 'renamed' }));
    await clients[0].settle();
    fleet.change(view('k', 10.504, 50, { ...MOVING, speed: 41, name: 'renamed' }));
    for (const c of clients) await c.flush();
    assert.equal(encoder.entries, 3, 'the newer change lacks a field of the older: merged, one encode per client');
    for (const [i, c] of clients.entries()) assert.deepEqual(c.entriesOf('k', third[i]), [{ id: 'k', lon: 10.504, ts: 8, name: 'renamed' }]);
    for (const c of [...clients, minClient]) c.close();
  });

  it('#9 the assembled frame equals the per-client encoding of the same entries', async () => {
    const fleet = new Fleet();
    const views = Array.from({ length: 20 }, (_, i) => view(`v${i}`, 10 + i / 100, 50, MOVING));
    for (const v of views) fleet.change(v);
    const shared = new Client(system, fleet, {}, msgpackFrameEncoder).open(`once-${++n}`);
    const whole = new Client(system, fleet).open(`once-${++n}`);
    for (const c of [shared, whole]) await c.sub({});
    const from = [shared.frames.length, whole.frames.length];
    for (const v of views) fleet.change({ ...v, lat: 50.001, speed: 33 });
    fleet.change(view('new', 10, 50, MOVING));
    for (const c of [shared, whole]) await c.flush();
    assert.deepEqual(shared.since(from[0]), whole.since(from[1]));
    assert.equal((shared.since(from[0])[0].u as unknown[]).length, 21);
    for (const c of [shared, whole]) c.close();
  });
});

describe('#9 level of detail', () => {
  it('#9 lod {minIntervalMs}: a vehicle sent recently waits (coalescing), another vehicle still goes out', async () => {
    const fleet = new Fleet();
    fleet.change(view('m', 10, 50, MOVING));
    fleet.change(view('k', 11, 50, MOVING));
    const c = new Client(system, fleet).open(`lod-${++n}`);
    await c.sub({ zoom: 5, lod: { minIntervalMs: 60_000 } });
    const from = c.frames.length;
    fleet.change(view('m', 10.001, 50, MOVING));
    await c.flush();
    fleet.change(view('m', 10.002, 50, MOVING));
    fleet.change(view('k', 11.001, 50, MOVING));
    await c.flush();
    assert.deepEqual(c.entriesOf('m', from).map((u) => u.lon), [10.001], 'one entry per minute at most');
    assert.deepEqual(c.entriesOf('k', from).map((u) => u.lon), [11.001]);
    c.close();
  });

  it('#9 lod "clusters": counts per cell instead of vehicles, a new cl frame when counts change, none when a vehicle moves within its cell', async () => {
    const fleet = new Fleet();
    fleet.change(view('a', 10.01, 50.01, MOVING));
    fleet.change(view('b', 10.02, 50.02, MOVING));
    fleet.change(view('c', 30.01, 50.01, MOVING));
    const c = new Client(system, fleet, { clusterFlushMs: 1 }).open(`lod-${++n}`);
    await c.sub({ zoom: 4, lod: 'clusters' });
    const first = c.frames.find((f) => f.t === 'cl');
    assert.ok(first, 'a cl frame instead of a snap');
    assert.equal(c.frames.some((f) => f.t === 'snap'), false);
    // zoom 4: cells of 360 / 2^6 = 5.625° from (-180, -90); the frame gives their centres.
    const counts = (f: Frame) => (f.cells as { lat: number; lon: number; n: number }[]).map((x) => `${x.lon},${x.lat}:${x.n}`).sort();
    assert.deepEqual(counts(first), ['30.9375,47.8125:1', '8.4375,47.8125:2']);
    let from = c.frames.length;
    fleet.change(view('a', 10.5, 50.5, MOVING));
    await new Promise((r) => setTimeout(r, 5));
    await c.flush();
    assert.deepEqual(c.since(from), [], 'moving within its cell changes no count');
    from = c.frames.length;
    fleet.change(view('b', 30.02, 50.02, MOVING));
    await new Promise((r) => setTimeout(r, 5));
    await c.flush();
    const next = c.since(from);
    assert.deepEqual(next.map((f) => f.t), ['cl']);
    assert.deepEqual(counts(next[0]), ['30.9375,47.8125:2', '8.4375,47.8125:1']);
    from = c.frames.length;
    await c.sub({});
    assert.deepEqual(c.since(from).map((f) => f.t), ['snap'], 'back to vehicles: a snap');
    c.close();
  });

  it('#9 lod is validated: clusters need a zoom, the interval an integer in range', async () => {
    const fleet = new Fleet();
    const c = new Client(system, fleet).open(`lod-${++n}`);
    await c.settle();
    for (const lod of ['clusters', { minIntervalMs: -1 }, { minIntervalMs: 1.5 }, { every: 3 }, 7]) {
      const from = c.frames.length;
      await c.sub({ lod });
      assert.deepEqual(c.since(from).map((f) => [f.t, f.code]), [['err', 'BAD_SUBSCRIPTION']], JSON.stringify(lod));
    }
    c.close();
  });
});
