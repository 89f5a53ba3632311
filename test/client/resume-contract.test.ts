import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket, { WebSocketServer } from 'ws';
import { FleetlineClient, type ResumeOutcome, type VehicleEvent } from '../../packages/client/src/index.js';

/**
 * Why a scripted in-process server: the client's side of the resume contract
 * (/work's resume-protocol, docs/protocol.md "Resume") has three answers — continued, a full
 * snapshot after a gap, an unknown session — and a fallback for servers that do not know
 * `resume`. The engine produces each only under conditions a test cannot time exactly (a
 * buffer overflow, an epoch change, a session expiring); this server sends each answer
 * on cue, frame by frame, so every branch of the client is pinned down. The client's
 * behaviour against a real engine is tested in client-against-engine.test.ts.
 */

type Frame = Record<string, unknown> & { t: string };

interface Connection {
  readonly socket: WebSocket;
  readonly received: Frame[];
  send(frame: Frame): void;
}

class ScriptedStreamServer {
  readonly connections: Connection[] = [];
  private readonly wss: WebSocketServer;
  private waiters: (() => void)[] = [];

  constructor(private readonly onFrame: (conn: Connection, index: number, frame: Frame) => void) {
    this.wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    this.wss.on('connection', (socket) => {
      const conn: Connection = { socket, received: [], send: (f) => socket.send(encode(f)) };
      const index = this.connections.push(conn) - 1;
      socket.on('message', (data: Buffer) => {
        const frame = decode(data) as Frame;
        conn.received.push(frame);
        this.onFrame(conn, index, frame);
        this.notify();
      });
      this.notify();
    });
  }

  listening(): Promise<void> {
    return this.wss.address() !== null ? Promise.resolve() : new Promise((r) => this.wss.once('listening', () => r()));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1/stream`;
  }

  /** Cuts the latest connection like a network failure (no close frame). */
  drop(): void {
    this.connections.at(-1)?.socket.terminate();
  }

  async until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 10);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  close(): Promise<void> {
    for (const c of this.connections) c.socket.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

const v = (id: string, lat: number) => ({ id, company: 'A', lat, lon: 13.4, ts: 1_700_000_000_000 + lat, speed: 10, moving: true });
const ev = (id: string) => ({ id, vehicleId: 'v1', company: 'A', type: 'alarm', ts: 1_700_000_000_000, lat: 52.5, lon: 13.4 });
const ready = { t: 'ready', companies: ['A'], expiresAt: Date.now() + 3_600_000 };

/** The first connection: session S1, a snapshot of v1 and v2, a delta and an event (seq 1–3). */
function firstStream(conn: Connection, frame: Frame): void {
  if (frame.t === 'auth') conn.send({ ...ready, session: 'S1', epoch: 1 });
  if (frame.t === 'sub') {
    conn.send({ t: 'snap', seq: 1, vehicles: [v('v1', 52.5), v('v2', 52.6)] });
    conn.send({ t: 'd', seq: 2, u: [{ id: 'v1', lat: 52.51 }] });
    conn.send({ t: 'ev', seq: 3, e: [ev('e1')] });
  }
}

describe('#9 @fleetline/client follows the resume contract (scripted server)', () => {
  let server: ScriptedStreamServer;
  let second: (conn: Connection, frame: Frame) => void = () => {};
  before(async () => {
    server = new ScriptedStreamServer((conn, index, frame) => (index === 0 ? firstStream(conn, frame) : second(conn, frame)));
    await server.listening();
  });
  after(() => server.close());

  /** A client through the first stream, then dropped; `answer` scripts the reconnect. */
  async function droppedClient(answer: (conn: Connection, frame: Frame) => void, whileAway: (client: FleetlineClient) => void = () => {}) {
    server.connections.length = 0;
    second = (conn, frame) => {
      if (frame.t === 'auth') conn.send({ ...ready, session: 'S-new', epoch: 1 });
      else answer(conn, frame);
    };
    const client = new FleetlineClient({ url: server.url, token: 't', webSocket: WebSocket, subscription: { companies: ['A'] }, reconnect: { minDelayMs: 10, maxDelayMs: 20 }, pingIntervalMs: 0 });
    const outcomes: ResumeOutcome[] = [];
    const events: VehicleEvent[] = [];
    client.on('resume', (r) => outcomes.push(r));
    client.on('event', (e) => events.push(e));
    await client.connect();
    await server.until('the first stream', () => client.stats.lastSeq === 3);
    assert.deepEqual(client.session, { session: 'S1', epoch: 1, seq: 3 });
    server.drop();
    whileAway(client);
    await server.until('the reconnect', () => server.connections.length === 2 && server.connections[1].received.length >= 2);
    return { client, outcomes, events, conn: server.connections[1] };
  }

  it('#9 resumed, full:false: it sends its session and last seq instead of sub, merges the partial snap, applies gone, gets the missed events once', async () => {
    const { client, outcomes, events, conn } = await droppedClient((c, frame) => {
      if (frame.t !== 'resume') return;
      c.send({ t: 'resumed', session: 'S1', epoch: 1, seq: 3, full: false });
      c.send({ t: 'snap', seq: 4, partial: true, vehicles: [{ id: 'v1', lat: 52.52, ts: 1 }] });
      c.send({ t: 'gone', seq: 5, ids: ['v2', 'never-had'] });
      c.send({ t: 'ev', seq: 6, e: [ev('e1'), ev('e2')] });
    });
    try {
      assert.deepEqual(conn.received.slice(0, 2), [{ t: 'auth', token: 't' }, { t: 'resume', session: 'S1', seq: 3, epoch: 1 }]);
      await server.until('the missed frames', () => client.stats.lastSeq === 6);
      assert.deepEqual(outcomes, [{ outcome: 'continued' }]);
      assert.deepEqual([...client.vehicles.keys()], ['v1']);
      assert.equal(client.vehicles.get('v1')?.lat, 52.52, 'merged');
      assert.equal(client.vehicles.get('v1')?.speed, 10, 'a partial snap merges: the fields it lacks are kept');
      assert.deepEqual(events.map((e) => e.id), ['e1', 'e2'], 'e1 came on both streams and is delivered once');
      assert.equal(client.stats.seqGaps, 0, 'seq continues at the client\'s seq + 1');
      assert.deepEqual(conn.received.filter((f) => f.t === 'sub'), [{ t: 'sub', companies: ['A'] }], 'after the resume, the subscription is confirmed (a sub lost in the drop would otherwise be missing)');
      assert.deepEqual(client.session, { session: 'S1', epoch: 1, seq: 6 });
    } finally {
      client.close();
    }
  });

  it('#9 resumed, full:false, after the viewport changed while away: the new subscription follows the resume', async () => {
    const { client, conn } = await droppedClient(
      (c, frame) => {
        if (frame.t === 'resume') c.send({ t: 'resumed', session: 'S1', epoch: 1, seq: 3, full: false });
      },
      (away) => away.setViewport([13, 52, 14, 53], 10),
    );
    try {
      await server.until('the replacement', () => conn.received.some((f) => f.t === 'sub'));
      assert.deepEqual(conn.received.map((f) => f.t), ['auth', 'resume', 'sub']);
      assert.deepEqual(conn.received[2], { t: 'sub', companies: ['A'], bbox: [13, 52, 14, 53], zoom: 10 });
    } finally {
      client.close();
    }
  });

  it('#9 resumed, full:true (GAP_TOO_LARGE): the full snapshot of the new epoch replaces the local set', async () => {
    const { client, outcomes, conn } = await droppedClient((c, frame) => {
      if (frame.t !== 'resume') return;
      c.send({ t: 'resumed', session: 'S1', epoch: 2, full: true, reason: 'GAP_TOO_LARGE' });
      c.send({ t: 'snap', seq: 1, vehicles: [v('v3', 52.7)] });
    });
    try {
      await server.until('the snapshot', () => client.vehicles.has('v3'));
      assert.deepEqual(outcomes, [{ outcome: 'snapshot', reason: 'GAP_TOO_LARGE' }]);
      assert.deepEqual([...client.vehicles.keys()], ['v3'], 'v1 and v2 are gone: replaced, not merged');
      assert.equal(client.stats.seqGaps, 0, 'seq 1 of the new epoch is no gap');
      assert.deepEqual(client.session, { session: 'S1', epoch: 2, seq: 1 });
      assert.deepEqual(conn.received.map((f) => f.t), ['auth', 'resume', 'sub'], 'the restored subscription is confirmed, never a second snapshot asked for');
    } finally {
      client.close();
    }
  });

  it('#9 resumed, UNKNOWN_SESSION: it takes the new session and sends its sub again', async () => {
    const { client, outcomes, conn } = await droppedClient((c, frame) => {
      if (frame.t === 'resume') c.send({ t: 'resumed', session: 'S2', epoch: 1, full: true, reason: 'UNKNOWN_SESSION' });
      if (frame.t === 'sub') c.send({ t: 'snap', seq: 1, vehicles: [v('v1', 52.9)] });
    });
    try {
      await server.until('the snapshot', () => client.vehicles.get('v1')?.lat === 52.9);
      assert.deepEqual(outcomes, [{ outcome: 'resubscribed', reason: 'UNKNOWN_SESSION' }]);
      assert.deepEqual([...client.vehicles.keys()], ['v1']);
      assert.deepEqual(conn.received.filter((f) => f.t === 'sub'), [{ t: 'sub', companies: ['A'] }]);
      assert.deepEqual(client.session, { session: 'S2', epoch: 1, seq: 1 });
      assert.equal(client.stats.seqGaps, 0);
    } finally {
      client.close();
    }
  });

  it('#9 a server without resume answers err BAD_FRAME: the client subscribes afresh on the session ready named', async () => {
    const errors: string[] = [];
    const { client, outcomes, conn } = await droppedClient((c, frame) => {
      if (frame.t === 'resume') c.send({ t: 'err', code: 'BAD_FRAME', msg: 'unknown frame type "resume"' });
      if (frame.t === 'sub') c.send({ t: 'snap', seq: 1, vehicles: [v('v2', 52.8)] });
    });
    client.on('error', (e) => errors.push(e.code));
    try {
      await server.until('the snapshot', () => client.vehicles.get('v2')?.lat === 52.8);
      assert.deepEqual(outcomes, [{ outcome: 'resubscribed', reason: 'UNSUPPORTED' }]);
      assert.deepEqual([...client.vehicles.keys()], ['v2'], 'the fresh snap replaces the local set');
      assert.deepEqual(conn.received.map((f) => f.t), ['auth', 'resume', 'sub']);
      assert.deepEqual(errors, [], 'the refusal is handled, not reported');
      assert.equal(client.session?.session, 'S-new');
      assert.equal(client.stats.seqGaps, 0);
    } finally {
      client.close();
    }
  });
});
