import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { dispatch, start, stop, type Ref } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { spawnSubscriber, type SubscriberMsg } from '../../actors/subscriber-actor.js';
import { diff } from '../../actors/vehicle-logic.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import type { ClientConnection, Session } from '../../actors/ports/client-connection.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';

type Frame = Record<string, unknown> & { t: string };
type Entry = Record<string, unknown> & { id: string };

const directory = new FleetDirectory({
  companies: [{ id: 'A', name: 'A', active: true }, { id: 'B', name: 'B', active: true }],
  vehicles: [{ id: 'v1', companyId: 'A' }, { id: 'v2', companyId: 'A' }, { id: 'v3', companyId: 'A' }, { id: 'w1', companyId: 'B' }],
  devices: [],
  groups: [{ id: 'north', companyId: 'A', name: 'North', vehicleIds: ['v1', 'v3'] }, { id: 'south', companyId: 'A', name: 'South', vehicleIds: ['v2'] }],
}, { accept: false, limit: 0 });

const base = (id: string, company: string, lon: number, lat: number, more: Partial<VehicleView> = {}): VehicleView =>
  ({ id, company, lon, lat, ts: 1, speed: 0, moving: false, status: 'online', name: `name ${id}`, ...more });

/**
 * A real subscriber actor, state index and delivery hub, with the WebSocket replaced by a
 * frame recorder, and a client-side model that applies frames as docs/protocol.md says.
 */
class Harness {
  readonly index = new SpatialStateIndex();
  readonly hub = new DeliveryHub(undefined, directory);
  readonly frames: Frame[] = [];
  /** What the client shows: snap replaces, d merges (or adds), gone removes. */
  readonly shown = new Map<string, Entry>();
  private ts = 1;
  private ref!: Ref<SubscriberMsg>;
  private waiters: (() => void)[] = [];

  constructor(private readonly system: Ref<unknown>, private readonly token: string) {}

  open(name: string): this {
    const conn: ClientConnection = {
      send: (bytes) => {
        const f = JSON.parse(Buffer.from(bytes).toString('utf8')) as Frame;
        this.frames.push(f);
        this.apply(f);
        for (const w of this.waiters.splice(0)) w();
        return true;
      },
      bufferedAmount: () => 0,
      close: () => {},
    };
    this.ref = spawnSubscriber(this.system, name, conn, {
      index: this.index, hub: this.hub, membership: directory, metrics: noMetrics,
      encode: (f) => Buffer.from(JSON.stringify(f)), decode: (b) => JSON.parse(Buffer.from(b).toString('utf8')),
      verifier: {
        verify: async (t) => (t === 'admin' ? null : new Set(t.split(','))),
        verifySession: async (t): Promise<Session> => ({ grant: t === 'admin' ? null : new Set(t.split(',')), expiresAt: Date.now() + 3_600_000 }),
      },
      options: { flushMs: 1000, maxBufferedBytes: 1 << 20, maxQueuedBytes: 1 << 22, maxFramesPerSecond: 10_000, authTimeoutMs: 5000, snapshotLimit: 1000 },
    });
    dispatch(this.ref, { kind: 'open', token: this.token });
    return this;
  }

  private apply(f: Frame): void {
    if (f.t === 'snap') {
      this.shown.clear();
      for (const v of f.vehicles as Entry[]) this.shown.set(v.id, v);
    } else if (f.t === 'd') {
      for (const u of f.u as Entry[]) this.shown.set(u.id, { ...(this.shown.get(u.id) ?? {}), ...u });
    } else if (f.t === 'gone') {
      for (const id of f.ids as string[]) this.shown.delete(id);
    }
  }

  /** Everything sent so far has been applied: the hub drained, the actor flushed and answered a ping after it. */
  async settle(): Promise<void> {
    await turn();
    dispatch(this.ref, { kind: 'flush' });
    const pongs = this.frames.filter((f) => f.t === 'pong').length;
    dispatch(this.ref, { kind: 'frame', data: Buffer.from(JSON.stringify({ t: 'ping' })), isBinary: false });
    while (this.frames.filter((f) => f.t === 'pong').length === pongs) await new Promise<void>((r) => this.waiters.push(r));
  }

  async sub(frame: Record<string, unknown>): Promise<void> {
    await this.settle();
    dispatch(this.ref, { kind: 'frame', data: Buffer.from(JSON.stringify({ t: 'sub', ...frame })), isBinary: false });
    await this.settle();
  }

  /** A vehicle changes, as a partition shard reports it: index first, then the hub. */
  async change(view: VehicleView): Promise<void> {
    const v = { ...view, ts: ++this.ts };
    const prev = this.index.get(v.id) ?? null;
    this.index.upsert(v, prev === null || prev.lat !== v.lat || prev.lon !== v.lon);
    this.hub.publish({ id: v.id, company: v.company, delta: diff(prev, v), view: v, receivedAt: Date.now() });
    await this.settle();
  }

  ids(): string[] {
    return [...this.shown.keys()].sort();
  }

  framesSince(n: number): Frame[] {
    return this.frames.slice(n).filter((f) => f.t !== 'pong');
  }

  close(): void {
    dispatch(this.ref, { kind: 'closed' });
  }
}

let system: Ref<unknown>;
let n = 0;
before(() => { system = start(); });
after(() => stop(system));
const harness = (token = 'admin') => new Harness(system, token).open(`sub-${++n}`);

interface Row {
  readonly name: string;
  readonly sub: Record<string, unknown>;
  readonly token?: string;
  readonly start: VehicleView[];
  readonly shownAtStart: string[];
  /** Each step: a change, then what the client shows. */
  readonly steps: readonly [VehicleView, string[]][];
}

const rows: Row[] = [
  {
    name: 'status moving: a vehicle that stops leaves, and comes back when it moves again',
    sub: { filter: { status: ['moving'] } },
    start: [base('v1', 'A', 13.4, 52.5, { moving: true, speed: 30 }), base('v2', 'A', 13.41, 52.5)],
    shownAtStart: ['v1'],
    steps: [
      [base('v1', 'A', 13.4, 52.5, { moving: false }), []],
      [base('v1', 'A', 13.401, 52.5, { moving: true, speed: 25 }), ['v1']],
      [base('v2', 'A', 13.411, 52.5, { moving: true, speed: 12 }), ['v1', 'v2']],
    ],
  },
  {
    name: 'status stopped excludes idle (stopped with the ignition on) and offline',
    sub: { filter: { status: ['stopped'] } },
    start: [base('v1', 'A', 13.4, 52.5, { ignition: false }), base('v2', 'A', 13.41, 52.5, { ignition: true })],
    shownAtStart: ['v1'],
    steps: [
      [base('v1', 'A', 13.4, 52.5, { ignition: true }), []],
      [base('v2', 'A', 13.41, 52.5, { ignition: false }), ['v2']],
      [base('v2', 'A', 13.41, 52.5, { ignition: false, status: 'offline' }), []],
    ],
  },
  {
    name: '(#10) type: vehicles of the listed types; a vehicle enters and leaves when its reference data changes type',
    sub: { filter: { type: ['truck', 'bus'] } },
    start: [base('v1', 'A', 13.4, 52.5, { type: 'truck' }), base('v2', 'A', 13.41, 52.5, { type: 'van' }), base('v3', 'A', 13.42, 52.5)],
    shownAtStart: ['v1'],
    steps: [
      [base('v2', 'A', 13.41, 52.5, { type: 'bus' }), ['v1', 'v2']],
      [base('v1', 'A', 13.4, 52.5, { type: 'van' }), ['v2']],
      [base('v3', 'A', 13.42, 52.5, { type: 'truck' }), ['v2', 'v3']],
      [base('v3', 'A', 13.42, 52.5), ['v2']],
    ],
  },
  {
    name: '(#10) type with status: both must hold',
    sub: { filter: { type: ['truck'], status: ['moving'] } },
    start: [base('v1', 'A', 13.4, 52.5, { type: 'truck', moving: true, speed: 30 }), base('v2', 'A', 13.41, 52.5, { type: 'truck' })],
    shownAtStart: ['v1'],
    steps: [
      [base('v2', 'A', 13.411, 52.5, { type: 'truck', moving: true, speed: 20 }), ['v1', 'v2']],
      [base('v1', 'A', 13.401, 52.5, { type: 'bus', moving: true, speed: 30 }), ['v2']],
    ],
  },
  {
    name: 'status idle: stopped with the ignition on; moving or ignition off leaves',
    sub: { filter: { status: ['idle'] } },
    start: [base('v1', 'A', 13.4, 52.5, { ignition: true })],
    shownAtStart: ['v1'],
    steps: [
      [base('v1', 'A', 13.401, 52.5, { ignition: true, moving: true, speed: 20 }), []],
      [base('v1', 'A', 13.401, 52.5, { ignition: true }), ['v1']],
      [base('v1', 'A', 13.401, 52.5, { ignition: false }), []],
    ],
  },
  {
    name: 'status offline: a vehicle enters when it goes offline, leaves when it is heard again',
    sub: { filter: { status: ['offline', 'moving'] } },
    start: [base('v1', 'A', 13.4, 52.5)],
    shownAtStart: [],
    steps: [
      [base('v1', 'A', 13.4, 52.5, { status: 'offline' }), ['v1']],
      [base('v1', 'A', 13.4, 52.5, { status: 'online' }), []],
      [base('v1', 'A', 13.401, 52.5, { status: 'online', moving: true, speed: 20 }), ['v1']],
    ],
  },
  {
    name: 'alerts only: a vehicle enters when an alert starts and leaves when the last one ends',
    sub: { filter: { alerts: true } },
    start: [base('v1', 'A', 13.4, 52.5), base('v2', 'A', 13.41, 52.5, { alerts: ['alarm'] })],
    shownAtStart: ['v2'],
    steps: [
      [base('v1', 'A', 13.4, 52.5, { alerts: ['overspeed'], moving: true, speed: 90 }), ['v1', 'v2']],
      [base('v2', 'A', 13.41, 52.5), ['v1']],
      [base('v1', 'A', 13.401, 52.5, { moving: true, speed: 50 }), []],
    ],
  },
  {
    name: 'groups: only members of the chosen groups, whatever else changes',
    sub: { groups: ['north'] },
    start: [base('v1', 'A', 13.4, 52.5), base('v2', 'A', 13.41, 52.5), base('v3', 'A', 20, 40)],
    shownAtStart: ['v1', 'v3'],
    steps: [
      [base('v2', 'A', 13.411, 52.5, { moving: true, speed: 30 }), ['v1', 'v3']],
      [base('v3', 'A', 20.001, 40, { moving: true, speed: 30 }), ['v1', 'v3']],
    ],
  },
  {
    name: 'groups combined with a status filter',
    sub: { groups: ['north', 'south'], filter: { status: ['moving'] } },
    start: [base('v1', 'A', 13.4, 52.5, { moving: true, speed: 20 }), base('v2', 'A', 13.41, 52.5), base('w1', 'B', 13.4, 52.5, { moving: true, speed: 20 })],
    shownAtStart: ['v1'],
    steps: [
      [base('v2', 'A', 13.411, 52.5, { moving: true, speed: 30 }), ['v1', 'v2']],
      [base('v1', 'A', 13.4, 52.5), ['v2']],
    ],
  },
  {
    name: 'bbox east edge: inside, on the edge (inclusive), across it, back',
    sub: { bbox: [13.0, 52.0, 14.0, 53.0], zoom: 10 },
    start: [base('v1', 'A', 13.9995, 52.5)],
    shownAtStart: ['v1'],
    steps: [
      [base('v1', 'A', 14.0, 52.5, { moving: true, speed: 20 }), ['v1']],
      [base('v1', 'A', 14.0005, 52.5, { moving: true, speed: 20 }), []],
      [base('v1', 'A', 14.2, 52.5, { moving: true, speed: 20 }), []],
      [base('v1', 'A', 13.9999, 52.5, { moving: true, speed: 20 }), ['v1']],
    ],
  },
  {
    name: 'bbox north and south edges',
    sub: { bbox: [13.0, 52.0, 14.0, 53.0] },
    start: [base('v1', 'A', 13.5, 52.9999), base('v2', 'A', 13.5, 52.0001)],
    shownAtStart: ['v1', 'v2'],
    steps: [
      [base('v1', 'A', 13.5, 53.0001, { moving: true, speed: 20 }), ['v2']],
      [base('v2', 'A', 13.5, 51.9999, { moving: true, speed: 20 }), []],
      [base('v2', 'A', 13.5, 52.0, { moving: true, speed: 20 }), ['v2']],
    ],
  },
  {
    name: 'bbox across the antimeridian (west > east)',
    sub: { bbox: [179.0, -1.0, -179.0, 1.0] },
    start: [base('v1', 'A', 179.9, 0)],
    shownAtStart: ['v1'],
    steps: [
      [base('v1', 'A', -179.9, 0, { moving: true, speed: 20 }), ['v1']],
      [base('v1', 'A', -178.9, 0, { moving: true, speed: 20 }), []],
      [base('v1', 'A', 179.5, 0, { moving: true, speed: 20 }), ['v1']],
      [base('v1', 'A', 178.9, 0, { moving: true, speed: 20 }), []],
    ],
  },
  {
    name: 'bbox with a status filter: entry needs both, exit takes either',
    sub: { bbox: [13.0, 52.0, 14.0, 53.0], filter: { status: ['moving'] } },
    start: [base('v1', 'A', 12.9999, 52.5, { moving: true, speed: 20 })],
    shownAtStart: [],
    steps: [
      [base('v1', 'A', 13.0001, 52.5), []],
      [base('v1', 'A', 13.0002, 52.5, { moving: true, speed: 20 }), ['v1']],
      [base('v1', 'A', 13.0002, 52.5), []],
    ],
  },
  {
    name: 'a company token never shows another company, even when it asks for it',
    token: 'A',
    sub: { companies: ['A', 'B'], bbox: [13.0, 52.0, 14.0, 53.0] },
    start: [base('v1', 'A', 13.4, 52.5), base('w1', 'B', 13.4, 52.5)],
    shownAtStart: ['v1'],
    steps: [
      [base('w1', 'B', 13.401, 52.5, { moving: true, speed: 20 }), ['v1']],
      [base('v1', 'A', 14.1, 52.5, { moving: true, speed: 20 }), []],
    ],
  },
];

describe('#9 subscription scope: entry and exit as state changes', () => {
  for (const row of rows) {
    it(`#9 ${row.name}`, async () => {
      const h = harness(row.token);
      for (const v of row.start) await h.change(v);
      await h.sub(row.sub);
      assert.deepEqual(h.ids(), row.shownAtStart, 'at subscribe');
      for (const [i, [change, expected]] of row.steps.entries()) {
        const from = h.frames.length;
        const before = new Set(h.shown.keys());
        await h.change(change);
        assert.deepEqual(h.ids(), expected, `after step ${i + 1}`);
        // An entry carries the full view (the client has nothing to merge it with); an exit is a gone.
        const shown = expected.includes(change.id);
        if (shown && !before.has(change.id)) {
          const entry = h.framesSince(from).flatMap((f) => (f.t === 'd' ? (f.u as Entry[]) : [])).find((u) => u.id === change.id);
          assert.equal(entry?.name, `name ${change.id}`, 'an entering vehicle arrives with its full view');
        }
        if (!shown && before.has(change.id)) {
          assert.ok(h.framesSince(from).some((f) => f.t === 'gone' && (f.ids as string[]).includes(change.id)), 'a leaving vehicle arrives in a gone');
        }
      }
      h.close();
    });
  }
});

interface ChangeRow {
  readonly name: string;
  readonly from: Record<string, unknown>;
  readonly to: Record<string, unknown>;
  readonly gone: string[];
  readonly entered: string[];
}

const fleet = [
  base('v1', 'A', 13.2, 52.5, { moving: true, speed: 30 }),
  base('v2', 'A', 13.5, 52.5),
  base('v3', 'A', 13.8, 52.5, { ignition: true }),
  base('w1', 'B', 13.5, 52.6, { moving: true, speed: 30 }),
];

const changes: ChangeRow[] = [
  { name: 'panning east: the west vehicle leaves, the east one enters, the middle one is not re-sent',
    from: { bbox: [13.0, 52.0, 13.6, 53.0] }, to: { bbox: [13.4, 52.0, 14.0, 53.0] }, gone: ['v1'], entered: ['v3'] },
  { name: 'zooming out: only what was outside enters',
    from: { bbox: [13.4, 52.4, 13.6, 52.55] }, to: { bbox: [13.0, 52.0, 14.0, 53.0], zoom: 8 }, gone: [], entered: ['v1', 'v3', 'w1'] },
  { name: 'zooming in: only what is outside the new box leaves',
    from: { bbox: [13.0, 52.0, 14.0, 53.0] }, to: { bbox: [13.4, 52.4, 13.6, 52.55] }, gone: ['v1', 'v3', 'w1'], entered: [] },
  { name: 'a status filter narrowed: the stopped and idle ones leave',
    from: {}, to: { filter: { status: ['moving'] } }, gone: ['v2', 'v3'], entered: [] },
  { name: 'a status filter widened: only the newly matching enter',
    from: { filter: { status: ['moving'] } }, to: { filter: { status: ['moving', 'idle'] } }, gone: [], entered: ['v3'] },
  { name: 'from a company to a group',
    from: { companies: ['B'] }, to: { groups: ['north'] }, gone: ['w1'], entered: ['v1', 'v3'] },
  { name: 'fields min → full re-sends every vehicle in scope, in full',
    from: { companies: ['A'], fields: 'min' }, to: { companies: ['A'], fields: 'full' }, gone: [], entered: ['v1', 'v2', 'v3'] },
];

describe('#9 a replaced subscription sends what entered and what left, never the whole world again', () => {
  for (const row of changes) {
    it(`#9 ${row.name}`, async () => {
      const h = harness();
      for (const v of fleet) await h.change(v);
      await h.sub(row.from);
      const from = h.frames.length;
      await h.sub(row.to);
      const frames = h.framesSince(from);
      assert.ok(!frames.some((f) => f.t === 'snap'), 'no new snap');
      const gone = frames.filter((f) => f.t === 'gone').flatMap((f) => f.ids as string[]).sort();
      const entered = frames.filter((f) => f.t === 'd').flatMap((f) => (f.u as Entry[]).map((u) => u.id)).sort();
      assert.deepEqual(gone, row.gone);
      assert.deepEqual(entered, row.entered);
      for (const f of frames.filter((x) => x.t === 'd')) for (const u of f.u as Entry[]) assert.ok('lat' in u && 'company' in u, 'entries are whole');
      h.close();
    });
  }

  it('#9 after a viewport change, updates follow the new box: leaving and entering across its edges', async () => {
    const h = harness();
    for (const v of fleet) await h.change(v);
    await h.sub({ bbox: [13.0, 52.0, 13.6, 53.0] });
    await h.sub({ bbox: [13.4, 52.0, 14.0, 53.0] });
    assert.deepEqual(h.ids(), ['v2', 'v3', 'w1']);
    await h.change(base('v1', 'A', 13.4001, 52.5, { moving: true, speed: 30 }));
    assert.deepEqual(h.ids(), ['v1', 'v2', 'v3', 'w1']);
    await h.change(base('v3', 'A', 14.0001, 52.5, { moving: true, speed: 30 }));
    assert.deepEqual(h.ids(), ['v1', 'v2', 'w1']);
    h.close();
  });
});

describe('#9 minimal and full payloads', () => {
  it('#9 min: the snapshot and entries carry only the map fields; a change of other fields sends nothing', async () => {
    const h = harness();
    await h.change(base('v1', 'A', 13.4, 52.5, { attrs: { rpm: 900 }, plate: 'B-1', ignition: true }));
    await h.sub({ fields: 'min' });
    const snap = h.frames.find((f) => f.t === 'snap')!;
    assert.deepEqual(snap.vehicles, [{ id: 'v1', company: 'A', lat: 52.5, lon: 13.4, ts: 2, speed: 0, moving: false, ignition: true, status: 'online' }]);
    const from = h.frames.length;
    await h.change(base('v1', 'A', 13.4, 52.5, { attrs: { rpm: 1200 }, plate: 'B-1', ignition: true }));
    assert.deepEqual(h.framesSince(from).filter((f) => f.t === 'd').map((f) => f.u), [[{ id: 'v1', ts: 3 }]], 'ts changed; attrs are not a min field');
    const from2 = h.frames.length;
    await h.change(base('v1', 'A', 13.401, 52.5, { attrs: { rpm: 1500 }, plate: 'B-1', ignition: true, moving: true, speed: 20, alerts: ['overspeed'] }));
    assert.deepEqual(h.framesSince(from2).filter((f) => f.t === 'd').map((f) => f.u), [[{ id: 'v1', lon: 13.401, ts: 4, speed: 20, moving: true, alerts: ['overspeed'] }]]);
    h.close();
  });

  it('#9 full (the default): the whole view, reference fields and attrs included', async () => {
    const h = harness();
    await h.change(base('v1', 'A', 13.4, 52.5, { attrs: { rpm: 900 }, plate: 'B-1', geofences: ['depot'] }));
    await h.sub({});
    const v = (h.frames.find((f) => f.t === 'snap')!.vehicles as Entry[])[0];
    assert.deepEqual([v.name, v.plate, v.attrs, v.geofences], ['name v1', 'B-1', { rpm: 900 }, ['depot']]);
    h.close();
  });

  it('#10 filter.type must be a non-empty array of type names', async () => {
    for (const type of [[], 'truck', [''], [7], ['x'.repeat(33)]]) {
      const h = harness();
      await h.sub({ filter: { type } });
      const err = h.frames.find((f) => f.t === 'err');
      assert.equal(err?.code, 'BAD_SUBSCRIPTION', JSON.stringify(type));
      h.close();
    }
  });

  it('#10 the type is a full field, not a min one', async () => {
    const h = harness();
    await h.change(base('v1', 'A', 13.4, 52.5, { type: 'truck' }));
    await h.sub({ fields: 'min', filter: { type: ['truck'] } });
    const min = (h.frames.find((f) => f.t === 'snap')!.vehicles as Entry[])[0];
    assert.equal(min.type, undefined);
    h.close();
    const g = harness();
    await g.change(base('v1', 'A', 13.4, 52.5, { type: 'truck' }));
    await g.sub({ filter: { type: ['truck'] } });
    const full = (g.frames.find((f) => f.t === 'snap')!.vehicles as Entry[])[0];
    assert.equal(full.type, 'truck');
    g.close();
  });
});
