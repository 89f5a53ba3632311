import { Unpackr } from 'msgpackr';
import WebSocket from 'ws';

/**
 * One process of `npm run bench:delivery`'s client swarm: `connections` raw `ws` clients, each
 * subscribed to its own map viewport, decoding every frame. Talks to the driver over IPC:
 * `connected` once every client has its snapshot; on `reset` the counters start over; on
 * `report` it answers with what arrived since (entries of `d` frames, frames, bytes, and a
 * histogram of delivery latency in whole milliseconds: receive time − the point's `ts`).
 */
export interface SwarmJob {
  readonly url: string;
  readonly token: string;
  readonly connections: number;
  /** Viewports, [west, south, east, north], one per client (taken round-robin). */
  readonly viewports: readonly (readonly [number, number, number, number])[];
}

export interface SwarmReport {
  readonly entries: number;
  readonly frames: number;
  readonly bytes: number;
  /** latency[ms] = entries delivered in that many ms (the last bucket: that many or more). */
  readonly latency: number[];
  readonly open: number;
  readonly closed: number;
  /** CPU time (user + system, µs) this process spent since the reset: the clients' own cost. */
  readonly cpuUs: number;
}

export type SwarmToDriver = { type: 'connected'; open: number } | { type: 'report'; report: SwarmReport } | { type: 'error'; message: string };
export type DriverToSwarm = { type: 'reset' } | { type: 'report' } | { type: 'stop' };

const LATENCY_BUCKETS = 10_001;
const cpuOf = (u: NodeJS.CpuUsage): number => u.user + u.system;

interface Entry { ts?: number }
interface Frame { t: string; u?: Entry[]; vehicles?: unknown[] }

async function run(job: SwarmJob): Promise<void> {
  const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'number' });
  let entries = 0;
  let frames = 0;
  let bytes = 0;
  let latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  let closed = 0;
  let cpu0 = process.cpuUsage();
  const sockets: WebSocket[] = [];
  const send = (m: SwarmToDriver) => process.send?.(m);

  const onMessage = (data: Buffer): void => {
    const f = unpackr.unpack(data) as Frame;
    frames++;
    bytes += data.byteLength;
    if (f.t !== 'd' || f.u === undefined) return;
    const now = Date.now();
    for (const u of f.u) {
      entries++;
      if (typeof u.ts === 'number') latency[Math.min(LATENCY_BUCKETS - 1, Math.max(0, now - u.ts))]++;
    }
  };

  const open = (i: number): Promise<void> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${job.url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(job.token)}`, { perMessageDeflate: false });
    let subscribed = false;
    ws.on('open', () => ws.send(JSON.stringify({ t: 'sub', bbox: job.viewports[i % job.viewports.length], zoom: 13, fields: 'min' })));
    ws.on('message', (data: Buffer) => {
      if (!subscribed) {
        const f = unpackr.unpack(data) as Frame;
        if (f.t === 'snap') {
          subscribed = true;
          ws.on('message', onMessage);
          resolve();
        }
        return;
      }
    });
    ws.on('error', (e) => { if (!subscribed) reject(e); });
    ws.on('close', () => { closed++; });
    sockets.push(ws);
  });

  const BATCH = 100;
  for (let i = 0; i < job.connections; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, job.connections - i) }, (_, k) => open(i + k)));
  }
  send({ type: 'connected', open: sockets.length - closed });

  process.on('message', (m: DriverToSwarm) => {
    if (m.type === 'reset') {
      entries = frames = bytes = 0;
      latency = new Array<number>(LATENCY_BUCKETS).fill(0);
      cpu0 = process.cpuUsage();
    } else if (m.type === 'report') {
      send({ type: 'report', report: { entries, frames, bytes, latency, open: sockets.length - closed, closed, cpuUs: cpuOf(process.cpuUsage(cpu0)) } });
    } else if (m.type === 'stop') {
      for (const ws of sockets) ws.terminate();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

const job = JSON.parse(process.env.SWARM_JOB ?? 'null') as SwarmJob | null;
if (job === null) {
  console.error('delivery-swarm.ts runs as a child of loadtest/bench-delivery.ts (SWARM_JOB unset)');
  process.exit(2);
}
run(job).catch((e: unknown) => {
  process.send?.({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies SwarmToDriver);
  process.exit(1);
});
