import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { CloseCodes, type ErrorCode } from '../../actors/domain/errors.js';
import { ConfigError, loadConfig } from '../../engine/config.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { startTestNode, StreamClient, type Frame } from '../support/engine.js';

// Each limit of a stream (docs/security.md, "Limits of a stream"), table-driven: what goes
// over it gets its err frame and/or close code and is counted in
// fleetline_ws_client_errors_total{code}; what stays at it is served.

const enc = (v: unknown) => encode(v);
const LIMITS = {
  WS_MAX_FRAMES_PER_SEC: '30', WS_MAX_SUBS_PER_SEC: '3', WS_MAX_SUB_IDS: '5', WS_MAX_SUB_GROUPS: '2', WS_MAX_CONNECTIONS_PER_TOKEN: '3',
};

interface LimitCase {
  readonly limit: string;
  readonly code: ErrorCode;
  /** The close code when going over the limit ends the connection; undefined: it stays open. */
  readonly close?: number;
  /** Whether the client gets an err frame (a frame too large is only a close: the transport refuses it). */
  readonly errFrame: boolean;
  /** Goes over the limit; returns the client that must be refused. */
  over(open: () => Promise<StreamClient>): Promise<StreamClient>;
  /** Stays exactly at the limit; returns the client, which must be served without an err. */
  at(open: () => Promise<StreamClient>): Promise<StreamClient>;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
const subscribe = async (c: StreamClient, frame: Record<string, unknown>, times = 1): Promise<StreamClient> => {
  for (let i = 0; i < times; i++) c.send({ t: 'sub', ...frame }, enc);
  return c;
};
/** Every frame sent so far was handled: a ping sent last is answered. */
const settled = async (c: StreamClient): Promise<void> => {
  const from = c.frames.length;
  c.send({ t: 'ping' }, enc);
  await c.next((f) => f.t === 'pong', 5000, from);
};

const CASES: LimitCase[] = [
  {
    limit: 'client frames per second (WS_MAX_FRAMES_PER_SEC)', code: 'RATE_LIMITED', close: CloseCodes.RATE_LIMITED, errFrame: true,
    over: async (open) => {
      const c = await open();
      for (let i = 0; i < 90; i++) c.send({ t: 'ping' }, enc);
      return c;
    },
    at: async (open) => {
      const c = await open();
      for (let i = 0; i < 29; i++) c.send({ t: 'ping' }, enc);
      await settled(c); // the 30th
      return c;
    },
  },
  {
    limit: 'subscription changes per second (WS_MAX_SUBS_PER_SEC)', code: 'SUBSCRIPTION_RATE_LIMITED', errFrame: true,
    over: async (open) => subscribe(await open(), { companies: ['A'] }, 8),
    at: async (open) => subscribe(await open(), { companies: ['A'] }, 3),
  },
  {
    limit: 'frame size (WS_MAX_FRAME_BYTES, 64 KiB)', code: 'FRAME_TOO_LARGE', close: CloseCodes.MESSAGE_TOO_BIG, errFrame: false,
    over: async (open) => {
      const c = await open();
      c.send({ t: 'sub', pad: 'x'.repeat(64 * 1024) }, enc);
      return c;
    },
    at: async (open) => {
      const c = await open();
      const frame = enc({ t: 'sub', companies: ['A'], pad: '' });
      // The same frame padded to exactly 64 KiB: an unknown field, ignored.
      c.send({ t: 'sub', companies: ['A'], pad: 'x'.repeat(64 * 1024 - frame.byteLength - 2) }, enc);
      return c;
    },
  },
  {
    limit: 'vehicle ids per subscription (WS_MAX_SUB_IDS)', code: 'SUBSCRIPTION_TOO_LARGE', errFrame: true,
    over: async (open) => subscribe(await open(), { vehicles: ids(6) }),
    at: async (open) => subscribe(await open(), { vehicles: ids(5) }),
  },
  {
    limit: 'companies per subscription (WS_MAX_SUB_IDS)', code: 'SUBSCRIPTION_TOO_LARGE', errFrame: true,
    over: async (open) => subscribe(await open(), { companies: ids(6) }),
    at: async (open) => subscribe(await open(), { companies: ids(5) }),
  },
  {
    limit: 'groups per subscription (WS_MAX_SUB_GROUPS)', code: 'SUBSCRIPTION_TOO_LARGE', errFrame: true,
    over: async (open) => subscribe(await open(), { groups: ['g1', 'g2', 'g3'] }),
    at: async (open) => subscribe(await open(), { groups: ['g1', 'g2'] }),
  },
  {
    limit: 'open streams per token (WS_MAX_CONNECTIONS_PER_TOKEN)', code: 'TOO_MANY_CONNECTIONS', close: CloseCodes.TOO_MANY_CONNECTIONS, errFrame: true,
    over: async (open) => {
      for (let i = 0; i < 3; i++) await (await open()).next((f) => f.t === 'ready');
      return open();
    },
    at: async (open) => {
      for (let i = 0; i < 2; i++) await (await open()).next((f) => f.t === 'ready');
      return open();
    },
  },
];

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 stream limits (${transport})`, () => {
    let node: FleetlineNode;
    const clients: StreamClient[] = [];
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, ...LIMITS });
    });
    after(async () => {
      for (const c of clients) c.ws.terminate();
      await node.close();
    });

    /** A fresh token per call of `opener`: each case holds its own per-token quota. */
    const opener = async (): Promise<() => Promise<StreamClient>> => {
      const token = await node.auth.sign({ companies: ['A'], jti: randomUUID() });
      return async () => {
        const c = await StreamClient.connect(node.url, token);
        clients.push(c);
        return c;
      };
    };
    const counted = async (code: string): Promise<number> =>
      Number(new RegExp(`fleetline_ws_client_errors_total\\{code="${code}"[^}]*\\} (\\d+)`).exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);

    for (const k of CASES) {
      it(`#9 over the limit of ${k.limit}: ${k.errFrame ? `err ${k.code}` : k.code}${k.close ? `, close ${k.close}` : ', the connection stays'}; counted`, async () => {
        const before = await counted(k.code);
        const c = await k.over(await opener());
        if (k.errFrame) {
          const err = await c.next((f) => f.t === 'err' && f.code === k.code);
          assert.match(String(err.msg), /\d/, 'the message names the limit');
        }
        if (k.close !== undefined) {
          assert.equal(await c.closed(), k.close);
        } else {
          await settled(c);
          assert.equal(c.closeCode, null, 'the connection stays open');
        }
        assert.ok((await counted(k.code)) > before, `fleetline_ws_client_errors_total{code="${k.code}"} counted it`);
      });

      it(`#9 at the limit of ${k.limit}: served, no err`, async () => {
        const c = await k.at(await opener());
        await c.next((f) => f.t === 'ready');
        await settled(c);
        assert.deepEqual(c.frames.filter((f: Frame) => f.t === 'err'), []);
        assert.equal(c.closeCode, null);
      });
    }

    it('#9 a refused subscription change keeps the current subscription: deltas of the last accepted one go on', async () => {
      const c = await (await opener())();
      await subscribe(c, { vehicles: ['va1'] });
      await c.next((f) => f.t === 'snap');
      c.send({ t: 'sub', vehicles: ids(6) }, enc);
      await c.next((f) => f.t === 'err' && f.code === 'SUBSCRIPTION_TOO_LARGE');
      await fetch(`${node.url}/v1/telemetry`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await node.auth.sign({ role: 'admin' })}` },
        body: JSON.stringify([{ deviceId: 'da1', ts: Date.now(), lat: 52.5, lon: 13.4, speed: 30 }, { deviceId: 'da2', ts: Date.now(), lat: 52.6, lon: 13.5, speed: 30 }]),
      });
      const d = await c.next((f) => f.t === 'd' && (f.u as { id: string }[]).some((u) => u.id === 'va1'));
      assert.ok((d.u as { id: string }[]).every((u) => u.id === 'va1'), 'only the vehicle of the subscription that stayed');
    });

    it('#9 a token at its quota gets a new stream once one of its streams closed; another token is never held back by it', async () => {
      const open = await opener();
      const held = [await open(), await open(), await open()];
      for (const c of held) await c.next((f) => f.t === 'ready');
      const other = await (await opener())();
      await other.next((f) => f.t === 'ready');
      held[0].close();
      // The server releases the place when it sees the close: a bounded number of attempts.
      let accepted = false;
      for (let i = 0; i < 50 && !accepted; i++) {
        const c = await open();
        accepted = await c.next((f) => f.t === 'ready' || f.t === 'err').then((f) => f.t === 'ready');
        if (!accepted) await c.closed();
      }
      assert.ok(accepted, 'a place freed by a closed stream is given to the next one');
    });
  });
}

for (const transport of ['uws', 'ws'] as const) {
  describe(`#9 server heartbeats on a node (${transport})`, () => {
    let node: FleetlineNode;
    before(async () => {
      node = await startTestNode({ TRANSPORT: transport, WS_PING_INTERVAL_S: '1', WS_PONG_TIMEOUT_S: '2' });
    });
    after(async () => node.close());

    it('#9 a raw client that answers no ping (autoPong off) is closed with 1001 and counted as HEARTBEAT_TIMEOUT; one that answers stays', async () => {
      const token = await node.auth.sign({ companies: ['A'], jti: randomUUID() });
      const url = `${node.url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`;
      const deaf = new WebSocket(url, { autoPong: false });
      const live = new WebSocket(url);
      let livePings = 0;
      live.on('ping', () => { livePings++; });
      const deafClosed = new Promise<number>((r) => deaf.once('close', (code: number) => r(code)));
      deaf.on('error', () => undefined);
      assert.equal(await deafClosed, CloseCodes.IDLE_TIMEOUT);
      while (livePings < 3) await new Promise((r) => setTimeout(r, 100));
      assert.equal(live.readyState, WebSocket.OPEN, 'the client whose library answers pings is still connected');
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      assert.match(metrics, /fleetline_ws_client_errors_total\{code="HEARTBEAT_TIMEOUT"[^}]*\} [1-9]/);
      live.close();
    });
  });
}

describe('#9 stream limit configuration', () => {
  it('#9 the defaults are the spec\'s: 100 frames/s, 10 sub changes/s, 10,000 ids, 256 groups, 20 streams per token, ping 30 s, pong timeout 60 s, 64 KiB frames', () => {
    const c = loadConfig({ JWT_SECRET: 'a-real-secret-0123456789' });
    assert.deepEqual(
      [c.wsMaxFramesPerSecond, c.wsMaxSubscriptionsPerSecond, c.wsMaxSubscriptionIds, c.wsMaxSubscriptionGroups, c.wsMaxConnectionsPerToken, c.wsPingIntervalSeconds, c.wsPongTimeoutSeconds, c.wsMaxFrameBytes],
      [100, 10, 10_000, 256, 20, 30, 60, 64 * 1024],
    );
  });

  it('#9 WS_IDLE_TIMEOUT_S (replaced by the ping interval and pong timeout) stops the start and says what to set', () => {
    assert.throws(() => loadConfig({ JWT_SECRET: 'a-real-secret-0123456789', WS_IDLE_TIMEOUT_S: '120' }),
      (e: unknown) => e instanceof ConfigError && /WS_IDLE_TIMEOUT_S was replaced by WS_PING_INTERVAL_S .* and WS_PONG_TIMEOUT_S/.test(e.message));
  });
});
