import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMsgpack as encode } from '../adapters/codec/msgpack-codec.js';
import { SignJWT } from 'jose';
import { ENGINE_NODE_FLAGS } from '../engine/node-flags.js';

/**
 * `npm run bench:sse`: what a Server-Sent Events stream costs the engine (in its own process):
 *  1. server memory per open stream (RSS and V8 heap from /metrics, before and after opening
 *     BENCH_SSE_STREAMS streams, each subscribed to BENCH_SSE_SCOPE vehicles and past its snap);
 *  2. delivered vehicle updates/s to those streams while every vehicle reports once a second
 *     (the client side runs in this process and parses every event: it bounds the figure);
 *  3. bytes per `d` entry on the wire, SSE (JSON) against /v1/stream (MessagePack).
 * Numbers, not assertions.
 */
const STREAMS = Number(process.env.BENCH_SSE_STREAMS ?? 1000);
const VEHICLES = Number(process.env.BENCH_SSE_VEHICLES ?? 2000);
const SCOPE = Number(process.env.BENCH_SSE_SCOPE ?? 100);
const SECONDS = Number(process.env.BENCH_SSE_SECONDS ?? 10);
const TRANSPORT = process.env.TRANSPORT ?? 'auto';
const SECRET = 'bench-secret-0123456789abcdef';

const fleetFile = join(mkdtempSync(join(tmpdir(), 'fleetline-bench-sse-')), 'fleet.json');
writeFileSync(fleetFile, JSON.stringify({
  companies: [{ id: 'A', name: 'A', active: true }],
  vehicles: Array.from({ length: VEHICLES }, (_, i) => ({ id: `v${i}`, companyId: 'A', name: `Vehicle ${i}` })),
  devices: Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, vehicleId: `v${i}` })),
}));

const main = fileURLToPath(new URL('../engine/main.ts', import.meta.url));
const engine = spawn(process.execPath, [...ENGINE_NODE_FLAGS, '--import', 'tsx', main], {
  env: {
    ...process.env, PORT: '0', HOST: '127.0.0.1', FLEETLINE_MODE: 'production', JWT_SECRET: SECRET, LOG_LEVEL: 'info', TRANSPORT,
    FLEET_FILE: fleetFile, OSMAND_PORT: 'off', DOMAIN_SETTINGS: JSON.stringify({ filterMaxSpeedKmh: 0, jitterRadiusM: 0 }),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const { port, transport } = await new Promise<{ port: number; transport: string }>((resolve, reject) => {
  let buffer = '';
  let listening: { port: number; transport: string } | null = null;
  engine.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.includes('"fleetline node listening"')) listening = JSON.parse(line) as { port: number; transport: string };
      if (line.includes('"fleetline node ready"') && listening) resolve(listening);
    }
  });
  engine.once('exit', (code) => reject(new Error(`engine exited (${code})`)));
});
const base = `http://127.0.0.1:${port}`;
const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const admin = await sign({ role: 'admin' });
const token = await sign({ companies: ['A'] });

const t0 = Date.now() - 3_600_000;
const post = async (round: number): Promise<void> => {
  const res = await fetch(`${base}/v1/telemetry`, {
    method: 'POST', headers: { 'content-type': 'application/msgpack', authorization: `Bearer ${admin}` },
    body: encode(Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `d${i}`, ts: t0 + round * 1000, lat: 50 + (i % 100) / 100 + round / 10_000, lon: 10 + Math.floor(i / 100) / 100, speed: 30 }))) as Uint8Array<ArrayBuffer>,
  });
  if (res.status !== 202) throw new Error(`intake answered ${res.status}`);
};
const memory = async (): Promise<{ rss: number; heap: number }> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: read('fleetline_process_process_resident_memory_bytes'), heap: read('fleetline_process_nodejs_heap_size_used_bytes') };
};

interface Counter { entries: number; bytes: number; sampleEntryBytes: number[] }
const counter: Counter = { entries: 0, bytes: 0, sampleEntryBytes: [] };
let snaps = 0;

/** One stream, parsed by hand: counts the entries of every `d` event. */
const open = (i: number): Promise<void> => new Promise((resolve, reject) => {
  const first = (i * SCOPE) % VEHICLES;
  const ids = Array.from({ length: SCOPE }, (_, k) => `v${(first + k) % VEHICLES}`).join(',');
  const req = request(`${base}/v1/sse?token=${token}&vehicles=${ids}`, { agent: false }, (res) => {
    if (res.statusCode !== 200) return reject(new Error(`stream ${i}: ${res.statusCode}`));
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      counter.bytes += Buffer.byteLength(chunk);
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.indexOf('\ndata: ');
        if (event.startsWith('event: snap')) {
          snaps++;
          resolve();
        } else if (event.startsWith('event: d') && data >= 0) {
          const frame = JSON.parse(event.slice(data + 7)) as { u: unknown[] };
          counter.entries += frame.u.length;
          if (counter.sampleEntryBytes.length < 1000) counter.sampleEntryBytes.push(Buffer.byteLength(event) / frame.u.length, encode(frame).byteLength / frame.u.length);
        }
      }
    });
  });
  req.on('error', reject);
  req.end();
});

// The engine goes with this process, however it ends.
process.on('exit', () => engine.kill('SIGKILL'));
await post(0);
await new Promise((r) => setTimeout(r, 1000));
global.gc?.();
const before = await memory();
for (let i = 0; i < STREAMS; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, STREAMS - i) }, (_, k) => open(i + k)));
  process.stderr.write(`\r${snaps} streams open`);
}
process.stderr.write('\n');
await new Promise((r) => setTimeout(r, 2000));
const after = await memory();

const started = Date.now();
counter.entries = 0;
counter.bytes = 0;
for (let round = 1; round <= SECONDS; round++) {
  await post(round);
  const due = started + round * 1000 - Date.now();
  if (due > 0) await new Promise((r) => setTimeout(r, due));
}
// Until the last round is delivered: no entry for a second.
for (let seen = -1; seen !== counter.entries;) {
  seen = counter.entries;
  await new Promise((r) => setTimeout(r, 1000));
}
const elapsed = (Date.now() - started - 1000) / 1000;

const sse = counter.sampleEntryBytes.filter((_, k) => k % 2 === 0);
const mp = counter.sampleEntryBytes.filter((_, k) => k % 2 === 1);
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);
console.log(`SSE bench: ${STREAMS} streams x ${SCOPE} vehicles (fields=full), ${VEHICLES} vehicles reporting 1/s, transport ${transport}`);
console.log(`  streams past their snap: ${snaps}`);
console.log(`  server memory per stream: RSS ${((after.rss - before.rss) / STREAMS / 1024).toFixed(1)} KiB, V8 heap ${((after.heap - before.heap) / STREAMS / 1024).toFixed(1)} KiB`);
console.log(`  delivered: ${counter.entries} of ${SECONDS * STREAMS * SCOPE} vehicle updates in ${elapsed.toFixed(1)} s: ${Math.round(counter.entries / elapsed)}/s, ${(counter.bytes / elapsed / 1024 / 1024).toFixed(1)} MiB/s`);
console.log(`  bytes per d entry: SSE/JSON ${mean(sse).toFixed(1)}, MessagePack ${mean(mp).toFixed(1)} (same frames)`);
if (process.env.BENCH_SSE_DEBUG) console.log((await (await fetch(`${base}/metrics`)).text()).split('\n').filter((l) => /points_(accepted|rejected)|frames_sent|flushes_deferred/.test(l) && !l.startsWith('#')).join('\n'));
process.exit(0);
