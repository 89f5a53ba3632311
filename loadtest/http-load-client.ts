import { Agent } from 'node:http';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { postTelemetry } from './telemetry-post.js';

/** The HTTP client side of the intake benchmark (a separate process, so it does not share the engine's event loop). Argument: the job as JSON. */
interface Job { port: number; token: string; devices: number; seconds: number; batch: number; concurrency: number }
const job = JSON.parse(process.argv[2] ?? '{}') as Job;

const engine = new URL(`http://127.0.0.1:${job.port}`);

const sim = new RouteSimulator({ devices: job.devices, seed: 7 });
// Pre-encoded, all distinct (a repeated point would be a counted duplicate, not work).
const bodies: Buffer[] = [];
let t = Date.now() - 3_600_000;
const rounds = Math.ceil((200_000 * job.seconds) / job.devices);
for (let round = 0; round < rounds; round++) {
  const points = sim.tick((t += 1000));
  for (let i = 0; i < points.length; i += job.batch) bodies.push(Buffer.from(encodeMsgpack(points.slice(i, i + job.batch))));
}
const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
let sent = 0;
let next = 0;
const started = performance.now();
const deadline = started + job.seconds * 1000;
await Promise.all(Array.from({ length: job.concurrency }, async () => {
  while (performance.now() < deadline && next < bodies.length) {
    const body = bodies[next++];
    const { status } = await postTelemetry(agent, engine, body, job.token);
    if (status !== 202) throw new Error(`POST answered ${status}`);
    sent += job.batch;
  }
}));
agent.destroy();
process.stdout.write(JSON.stringify({ sent, seconds: (performance.now() - started) / 1000, startedAt: Date.now() - (performance.now() - started) }));
