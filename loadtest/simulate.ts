import { Agent } from 'node:http';
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { JwtAuth } from '../engine/auth.js';
import { postTelemetry } from './telemetry-post.js';

/**
 * Device simulator: N trackers driving around a city, each reporting every --interval ms,
 * posted as MessagePack batches to one or more engines (round-robin). Prints what was
 * accepted and rejected. Stops by itself after --duration seconds.
 *
 *   node dist/loadtest/simulate.js --devices 20000 --interval 1000 --duration 60 --engines http://127.0.0.1:8080
 *
 * Intake needs a credential: --token (or FLEETLINE_TOKEN), an ingest or admin JWT; or, with
 * JWT_SECRET in the environment, the simulator signs an admin token itself. Its devices
 * (`dev-<n>`) are those of the demo fleet: beyond it (or without it) they are unbound devices,
 * which an engine accepts only with ACCEPT_UNBOUND_DEVICES=true.
 */
const program = new Command()
  .name('fleetline-simulate')
  .option('--engines <urls>', 'comma-separated engine base URLs', process.env.ENGINE_URLS ?? 'http://127.0.0.1:8080')
  .option('--devices <n>', 'simulated devices', (v) => Number(v), Number(process.env.SIM_DEVICES ?? 10_000))
  .option('--interval <ms>', 'report interval per device', (v) => Number(v), Number(process.env.SIM_INTERVAL_MS ?? 1000))
  .option('--duration <s>', 'stop after this many seconds', (v) => Number(v), Number(process.env.SIM_DURATION_S ?? 60))
  .option('--batch <n>', 'points per request', (v) => Number(v), 500)
  .option('--seed <n>', 'random seed', (v) => Number(v), 1)
  .option('--token <jwt>', 'intake credential (default: FLEETLINE_TOKEN, else an admin token signed with JWT_SECRET)', process.env.FLEETLINE_TOKEN)
  .parse();

const opts = program.opts<{ engines: string; devices: number; interval: number; duration: number; batch: number; seed: number; token?: string }>();
const signed = opts.token ?? (process.env.JWT_SECRET
  ? await new JwtAuth(process.env.JWT_SECRET).sign({ role: 'admin', sub: 'simulate' }, Math.min(86_400, opts.duration + 600))
  : undefined);
if (signed === undefined) {
  console.error('fleetline-simulate: intake needs a credential: pass --token (or FLEETLINE_TOKEN), or set JWT_SECRET');
  process.exit(2);
}
const token: string = signed;
const engines = opts.engines.split(',').map((u) => new URL(u.trim()));
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const sim = new RouteSimulator({ devices: opts.devices, seed: opts.seed });
let accepted = 0;
let rejected = 0;
let failed = 0;
let next = 0;

function post(body: Buffer): Promise<void> {
  return postTelemetry(agent, engines[next++ % engines.length], body, token).then(({ status, text }) => {
    if (status === 202) {
      const r = JSON.parse(text) as { accepted: number; rejected: unknown[] };
      accepted += r.accepted;
      rejected += r.rejected.length;
    } else failed++;
  }, () => { failed++; });
}

const ticks = Math.max(1, Math.round((opts.duration * 1000) / opts.interval));
const bar = new SingleBar({ format: 'simulate |{bar}| {value}/{total} ticks | {accepted} accepted, {rejected} rejected, {failed} failed requests' }, Presets.shades_classic);
bar.start(ticks, 0, { accepted, rejected, failed });
const started = Date.now();
for (let t = 0; t < ticks; t++) {
  const due = started + t * opts.interval;
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  const points = sim.tick(Date.now());
  const posts: Promise<void>[] = [];
  for (let i = 0; i < points.length; i += opts.batch) posts.push(post(Buffer.from(encodeMsgpack(points.slice(i, i + opts.batch)))));
  await Promise.all(posts);
  bar.update(t + 1, { accepted, rejected, failed });
}
bar.stop();
const seconds = (Date.now() - started) / 1000;
console.log(`${accepted} points accepted in ${seconds.toFixed(1)} s (${Math.round(accepted / seconds)} points/s), ${rejected} rejected, ${failed} failed requests`);
agent.destroy();
process.exit(failed > 0 ? 1 : 0);
