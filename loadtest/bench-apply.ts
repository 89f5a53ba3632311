import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';
import { demoFleet } from '../engine/simulator/demo-fleet.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { TelemetryIntake } from '../engine/telemetry-intake.js';
import { noMetrics } from '../actors/ports/engine-metrics.js';
import { Topics } from '../actors/ports/partitioned-log.js';
import { metricSum } from './harness/engine-metrics.js';

/**
 * Points/s the vehicle actors of one node apply from the embedded bus (issue #11's target): the
 * bus holds BENCH_APPLY_POINTS points of BENCH_APPLY_VEHICLES moving demo vehicles (bound
 * devices, one point per record as intake writes them) before its consumer runs its first
 * batch; the node then reads telemetry.raw, routes, forwards to the vehicles' home partitions
 * (23 in 24 points: a device and its vehicle hash to different partitions) and applies.
 * Measured from the first batch to fleetline_points_accepted_total reaching the count: wall
 * time, node CPU per point, GC share, heap, and the points forwarded. Numbers, not assertions.
 */
const VEHICLES = Number(process.env.BENCH_APPLY_VEHICLES ?? 100_000);
const POINTS = Number(process.env.BENCH_APPLY_POINTS ?? 1_000_000);
const POLL_MS = 50;

export async function appliedFromBus(): Promise<void> {
  const fleet = demoFleet(VEHICLES);
  const dir = mkdtempSync(join(tmpdir(), 'fleetline-bench-apply-'));
  const fleetFile = join(dir, 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify(fleet));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: 'bench-secret-0123456789', LOG_LEVEL: 'warn', FLEET_FILE: fleetFile,
    ...(process.env.EMBEDDED_MAX_BATCH ? { EMBEDDED_MAX_BATCH: process.env.EMBEDDED_MAX_BATCH } : {}),
  });
  const node = await startNode(config, pino({ level: 'warn' }));
  const bound = new Set(fleet.devices.map((d) => d.deviceId));
  const sim = new RouteSimulator({ devices: VEHICLES, seed: 7 });
  const rounds = Math.ceil(POINTS / bound.size);
  const intervalMs = 5000;
  const base = Date.now() - (rounds + 10) * intervalMs;
  const partitions = node.infrastructure.bus.partitionsOf(Topics.telemetryRaw);
  const intake = new TelemetryIntake(node.infrastructure.bus, noMetrics, Number.POSITIVE_INFINITY);
  // Every publish below runs synchronously to its end (the embedded log awaits nothing): the
  // consumer's first batch is scheduled with setImmediate, so it starts only after the last.
  let published = 0;
  const fill0 = performance.now();
  for (let round = 0; round < rounds && published < POINTS; round++) {
    const points = sim.tick(base + round * intervalMs).filter((p) => bound.has(p.deviceId)).slice(0, POINTS - published);
    void intake.publish(points);
    published += points.length;
  }
  const fillMs = performance.now() - fill0;
  const counter = async (name: string) => metricSum(await (await fetch(`${node.url}/metrics`)).text(), name) ?? 0;
  const metric = () => counter('fleetline_points_accepted_total');

  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  gcObserver.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let accepted = 0;
  while ((accepted = await metric()) < published) {
    if (performance.now() - t0 > 600_000) throw new Error(`only ${accepted} of ${published} points applied after 10 minutes`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  gcObserver.disconnect();
  const heap = process.memoryUsage();
  const forwarded = await counter('fleetline_points_forwarded_total');
  await node.close();

  const cpuMs = (cpu.user + cpu.system) / 1000;
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`Applied by the actors from the embedded bus (${published} points of ${bound.size} vehicles, ${rounds} points each ${intervalMs / 1000} s apart, ` +
    `${partitions} partitions, ${forwarded} points forwarded, EMBEDDED_MAX_BATCH=${config.embeddedMaxBatch}, bus filled in ${(fillMs / 1000).toFixed(1)} s before consumption; load average ${load}):`);
  console.log(`  applied: ${Math.round(published / (ms / 1000))} points/s (all ${accepted} accepted ${(ms / 1000).toFixed(2)} s after the first batch; polled every ${POLL_MS} ms)`);
  console.log(`  node CPU: ${((cpuMs * 1000) / published).toFixed(2)} µs/point (${(cpuMs / 1000).toFixed(2)} s user+system = ${Math.round(published / (cpuMs / 1000))} points/s per CPU-second), ` +
    `GC ${((100 * gcMs) / ms).toFixed(1)}% of wall time (${Math.round(gcMs)} ms)`);
  console.log(`  heap used after: ${(heap.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(heap.rss / 2 ** 20).toFixed(0)} MiB`);
}
