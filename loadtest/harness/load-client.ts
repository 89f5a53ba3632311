import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import type { LatencyTimeline } from './latency-timeline.js';

/** What a client subscribes to (docs/protocol.md `sub`), and how the engine's GET /v1/vehicles asks for the same. */
export type Subscription =
  | { kind: 'company'; companies: string[] }
  | { kind: 'bbox'; bbox: [number, number, number, number]; zoom: number }
  | { kind: 'ids'; vehicles: string[] };

export interface ClientCounts {
  frames: number;
  bytes: number;
  /** Vehicle entries of `d` frames. */
  updates: number;
  events: number;
  /** Updates carrying the `ts` the client already held for the vehicle (a doubled delivery). */
  duplicates: number;
  /** Updates with an older `ts` than the one held (the map jumped back). */
  regressions: number;
  /** Frames missed or repeated, from `seq`. */
  seqGaps: number;
  seqRepeats: number;
  errors: number;
}

const unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true, useRecords: false });
const packr = new Packr({ useRecords: false });

type Entry = { id: string; ts?: number; lat?: number; lon?: number };

/**
 * One map client: subscribes once, decodes every frame, checks `seq`, and holds the `ts` it
 * last saw per vehicle (snap replaces, `d` merges, `gone` removes). Each `d` entry with a new
 * `ts` is a delivered point: its latency (receipt time − the point's `ts`, which the devices
 * stamp with their send time) goes to the timeline; one that did not move the vehicle (no `lat` or
 * `lon` in it: a parked vehicle's newer report, sent at the engine's slower WS_STOPPED_FLUSH_MS
 * by design) goes to `stationary` when given, so the headline latency is that of movement.
 */
export class LoadClient {
  /** Vehicle id → ts of the last position the client has. */
  readonly state = new Map<string, number>();
  readonly counts: ClientCounts = { frames: 0, bytes: 0, updates: 0, events: 0, duplicates: 0, regressions: 0, seqGaps: 0, seqRepeats: 0, errors: 0 };
  lastSeq = 0;
  closeCode: number | null = null;
  snapshotted = false;
  private ws: WebSocket | null = null;

  constructor(readonly index: number, readonly subscription: Subscription, private readonly latency: LatencyTimeline, private readonly stationary?: LatencyTimeline) {}

  /** Connects with `token`, subscribes, and resolves once the first `snap` arrived. */
  async connect(engine: string, token: string, timeoutMs = 30_000): Promise<void> {
    const url = `${engine.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client ${this.index}: no snapshot within ${timeoutMs} ms`)), timeoutMs);
      ws.on('message', (data: Buffer) => {
        this.receive(data, Date.now());
        if (this.snapshotted) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.once('open', () => ws.send(packr.pack({ t: 'sub', ...subFrame(this.subscription) })));
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
      ws.on('close', (code) => {
        this.closeCode = code;
        clearTimeout(timer);
        reject(new Error(`client ${this.index}: closed ${code} before its snapshot`));
      });
    });
  }

  /** Handles one server frame received at `now` (ms since epoch). */
  receive(data: Buffer, now: number): void {
    this.counts.frames++;
    this.counts.bytes += data.length;
    const f = unpackr.unpack(data) as { t: string; seq?: number; vehicles?: Entry[]; u?: Entry[]; ids?: string[]; e?: unknown[] };
    if (typeof f.seq === 'number') {
      if (f.seq > this.lastSeq + 1) this.counts.seqGaps += f.seq - this.lastSeq - 1;
      else if (f.seq <= this.lastSeq) this.counts.seqRepeats++;
      this.lastSeq = f.seq;
    }
    switch (f.t) {
      case 'snap':
        this.state.clear();
        for (const v of f.vehicles ?? []) if (v.ts !== undefined) this.state.set(v.id, v.ts);
        this.snapshotted = true;
        break;
      case 'd':
        for (const u of f.u ?? []) this.update(u, now);
        break;
      case 'gone':
        for (const id of f.ids ?? []) this.state.delete(id);
        break;
      case 'ev':
        this.counts.events += f.e?.length ?? 0;
        break;
      case 'err':
        this.counts.errors++;
        break;
      default:
    }
  }

  private update(u: Entry, now: number): void {
    this.counts.updates++;
    if (u.ts === undefined) return;
    const held = this.state.get(u.id);
    if (held !== undefined && u.ts === held) {
      this.counts.duplicates++;
      return;
    }
    if (held !== undefined && u.ts < held) this.counts.regressions++;
    this.state.set(u.id, u.ts);
    const moved = held === undefined || u.lat !== undefined || u.lon !== undefined;
    (moved || this.stationary === undefined ? this.latency : this.stationary).record(now - u.ts);
  }

  /** Closes from our side: `closeCode` keeps only closes the server made during the run. */
  close(): void {
    this.ws?.removeAllListeners('close');
    this.ws?.close();
  }

  get open(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }
}

export function subFrame(s: Subscription): Record<string, unknown> {
  if (s.kind === 'company') return { companies: s.companies };
  if (s.kind === 'bbox') return { bbox: s.bbox };
  return { vehicles: s.vehicles };
}

/** The GET /v1/vehicles query that selects what the subscription does. */
export function vehiclesQuery(s: Subscription): string {
  if (s.kind === 'company') return `company=${s.companies.map(encodeURIComponent).join(',')}`;
  if (s.kind === 'bbox') return `bbox=${s.bbox.map((v) => v.toFixed(6)).join(',')}`;
  return `ids=${s.vehicles.map(encodeURIComponent).join(',')}`;
}
