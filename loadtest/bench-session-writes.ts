import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';
import { removeRedisPrefix } from './bench-stores.js';

/**
 * `npm run bench:sessions`: what stream sessions cost Redis. One node with REDIS_URL, CLIENTS
 * connections subscribed to every vehicle, VEHICLES vehicles reporting every INTERVAL_MS for
 * SECONDS: deltas delivered per second against session writes (script calls) and pipelines per
 * second. Sessions are saved in one batch per WS_SESSION_SAVE_MS, so the writes follow the
 * number of sessions with news, never the number of deltas or frames. Numbers, not assertions.
 * Uses its own key prefix on REDIS_URL (default redis://127.0.0.1:6379) and removes it after.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const VEHICLES = Number(process.env.BENCH_VEHICLES ?? 200);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const prefix = `bench:sessions:${randomBytes(4).toString('hex')}:`;
const secret = randomBytes(24).toString('hex');
const config = loadConfig({
  PORT: '0', HOST: '127.0.0.1', JWT_SECRET: secret, REDIS_URL, REDIS_PREFIX: prefix, ACCEPT_UNBOUND_DEVICES: 'true',
  LOG_LEVEL: 'warn', WS_FLUSH_MS: '30', DOMAIN_SETTINGS: JSON.stringify({ filterMaxSpeedKmh: 0, jitterRadiusM: 0 }),
});
const node = await startNode(config, pino({ level: 'warn' }));
const token = await node.auth.sign({ role: 'admin' });
const pack = new Packr({ useRecords: false });
const unpack = new Unpackr({ int64AsType: 'number', mapsAsObjects: true, useRecords: false });

let deltas = 0;
let frames = 0;
const sockets: WebSocket[] = [];
await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<void>((resolve, reject) => {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/v1/stream?token=${token}`);
  ws.on('open', () => { ws.send(pack.pack({ t: 'sub', fields: 'min' })); resolve(); });
  ws.on('error', reject);
  ws.on('message', (data: Buffer) => {
    const f = unpack.unpack(data) as { t: string; u?: unknown[] };
    if (f.t === 'd') {
      frames++;
      deltas += f.u?.length ?? 0;
    }
  });
  sockets.push(ws);
})));

const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
};
const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
const post = async (round: number): Promise<void> => {
  const ts = Date.now();
  const points = Array.from({ length: VEHICLES }, (_, i) => ({ deviceId: `bench-${i}`, ts, lat: 52 + (i % 100) * 0.01, lon: 13 + round * 0.0002 + Math.floor(i / 100) * 0.01, speed: 40 }));
  const res = await fetch(`${node.url}/v1/telemetry`, { method: "POST", headers, body: JSON.stringify(points) });
  if (res.status !== 202) throw new Error(`POST /v1/telemetry: ${res.status} ${await res.text()}`);
};

await post(0);
await new Promise((r) => setTimeout(r, 1500));
const saves0 = await metric('fleetline_ws_session_saves_total');
deltas = 0;
frames = 0;
const started = Date.now();
for (let round = 1; Date.now() - started < SECONDS * 1000; round++) {
  const next = started + round * INTERVAL_MS;
  await post(round);
  await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
}
const seconds = (Date.now() - started) / 1000;
const saves = (await metric('fleetline_ws_session_saves_total')) - saves0;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`clients ${CLIENTS}, vehicles ${VEHICLES} every ${INTERVAL_MS} ms, ${seconds.toFixed(1)} s, WS_SESSION_SAVE_MS ${config.wsSessionSaveMs}`);
console.log(`deltas delivered      ${fmt(deltas / seconds)}/s (${fmt(frames / seconds)} d frames/s)`);
console.log(`session writes        ${fmt(saves / seconds)}/s (one script call each, ${fmt(1000 / config.wsSessionSaveMs)} pipeline/s)`);
console.log(`writes per delta      ${(saves / Math.max(1, deltas)).toExponential(2)} (per frame: ${(saves / Math.max(1, frames)).toFixed(4)})`);

for (const ws of sockets) ws.terminate();
await node.close();
await removeRedisPrefix(prefix, REDIS_URL);
