import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { StreamClient, type Frame } from './engine.js';

type View = Record<string, unknown> & { id: string };
type Event = { id: string; vehicleId: string; type: string };

/**
 * What a client following docs/protocol.md holds, applied frame by frame across reconnects:
 * the vehicles (snap replaces, a partial snap merges, d merges or adds, gone removes), the
 * events in order, and the last seq applied with its session and epoch.
 */
export class LocalFleet {
  readonly vehicles = new Map<string, View>();
  readonly events: Event[] = [];
  session = '';
  epoch = 0;
  seq = 0;

  apply(f: Frame): void {
    switch (f.t) {
      case 'ready':
        if (this.session === '') {
          this.session = f.session as string;
          this.epoch = f.epoch as number;
        }
        return;
      case 'resumed':
        this.session = f.session as string;
        this.epoch = f.epoch as number;
        if (f.full === true) this.seq = 0;
        return;
      case 'snap':
        if (f.partial !== true) this.vehicles.clear();
        for (const v of f.vehicles as View[]) this.vehicles.set(v.id, { ...(f.partial === true ? this.vehicles.get(v.id) : {}), ...v });
        break;
      case 'd':
        for (const u of f.u as View[]) this.vehicles.set(u.id, { ...this.vehicles.get(u.id), ...u });
        break;
      case 'gone':
        for (const id of f.ids as string[]) this.vehicles.delete(id);
        break;
      case 'ev':
        this.events.push(...(f.e as Event[]));
        break;
      default:
        return;
    }
    this.seq = f.seq as number;
  }

  /** Applies every frame `client` received from index `from` on; returns the next index. */
  follow(client: StreamClient, from = 0): number {
    for (let i = from; i < client.frames.length; i++) this.apply(client.frames[i]);
    return client.frames.length;
  }

  /** The vehicles as comparable values: empty arrays (an alert or geofence set that ended) as absent. */
  normalized(): Map<string, View> {
    return new Map([...this.vehicles].map(([id, v]) => [id, normalize(v)]));
  }
}

export function normalize(v: Record<string, unknown>): View {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!(Array.isArray(x) && x.length === 0) && x !== undefined && x !== null) out[k] = x;
  return out as View;
}

/** GET /v1/vehicles (bbox) with `token`: the server's state, normalized. */
export async function serverVehicles(url: string, token: string, bbox: readonly number[]): Promise<Map<string, View>> {
  const res = await fetch(`${url}/v1/vehicles?bbox=${bbox.join(',')}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { vehicles: View[] };
  return new Map(body.vehicles.map((v) => [v.id, normalize(v)]));
}

/**
 * Connects with `token` and sends {t:"resume"} for `local`'s session and seq; the client's seq
 * check is told where this connection's numbering continues (the client's seq, or 0 when the
 * server is expected to start a new epoch).
 */
export async function resumeOn(url: string, token: string, local: LocalFleet, expectContinuation: boolean, extra: Record<string, unknown> = {}): Promise<StreamClient> {
  const client = await StreamClient.connect(url, token);
  await client.next((f) => f.t === 'ready');
  client.lastSeq = expectContinuation ? local.seq : 0;
  client.send({ t: 'resume', session: local.session, seq: local.seq, ...extra }, (v) => encode(v));
  await client.next((f) => f.t === 'resumed');
  return client;
}

/** Waits until `cond` holds; on timeout runs `explain` (assertions that show the difference) or throws. */
export async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, explain?: () => Promise<void> | void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      await explain?.();
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
