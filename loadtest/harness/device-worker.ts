import { setTimeout as sleep } from 'node:timers/promises';
import type { RawPoint } from '../../engine/simulator/route-simulator.js';
import { DeviceFleet, type DevicePlan } from './device-fleet.js';
import { HttpPointSender, KafkaPointSender, OsmAndPointSender, type PointSender } from './point-senders.js';

/** What a device worker is told to do (argv[2], JSON). */
export interface DeviceJob {
  plan: DevicePlan;
  transport: 'http' | 'kafka' | 'osmand';
  engines: string[];
  token: string;
  kafkaBrokers: string[];
  kafkaTopicPrefix: string;
  osmandUrls: string[];
  batch: number;
  concurrency: number;
  durationMs: number;
}

/** Cumulative counts a worker reports to the harness (IPC) every 250 ms and at the end. */
export interface DeviceStats {
  /** Records handed to the transport (bad and duplicate ones included). */
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
  bad: number;
  duplicates: number;
  /** Devices gone silent so far. */
  silent: number;
  /** Records taken from the simulator but not yet sent (the worker is behind when this grows). */
  queued: number;
  /**
   * Records never sent: dropped from the queue when it held more than one interval's worth
   * (the transport could not keep up), or still queued when the duration ended.
   */
  dropped: number;
}

export type WorkerMessage = { type: 'ready' } | { type: 'stats'; stats: DeviceStats } | { type: 'done'; stats: DeviceStats } | { type: 'error'; message: string };

function makeSender(job: DeviceJob): PointSender {
  if (job.transport === 'kafka') return new KafkaPointSender(job.kafkaBrokers, job.kafkaTopicPrefix);
  if (job.transport === 'osmand') return new OsmAndPointSender(job.osmandUrls, job.concurrency);
  return new HttpPointSender(job.engines, job.token, job.concurrency);
}

/**
 * Drives one slice of the fleet in real time: each slot's points are taken when due,
 * stamped with the current time, cut into batches and sent with at most `concurrency`
 * batches in flight.
 */
export async function runDevices(job: DeviceJob, report: (m: WorkerMessage) => void, stopped: () => boolean, go: Promise<void> = Promise.resolve()): Promise<DeviceStats> {
  const fleet = new DeviceFleet(job.plan);
  const sender = makeSender(job);
  await sender.open();
  report({ type: 'ready' });
  await go;
  const stats: DeviceStats = { sent: 0, accepted: 0, rejected: 0, failed: 0, bad: 0, duplicates: 0, silent: 0, queued: 0, dropped: 0 };
  const pending: RawPoint[][] = [];
  const lastStamp = new Float64Array(job.plan.devices);
  const maxQueued = Math.max(job.batch, job.plan.devices);
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const pump = (): void => {
    while (inFlight < job.concurrency && pending.length > 0) {
      const batch = pending.shift()!;
      stats.queued -= batch.length;
      stats.sent += batch.length;
      stamp(batch, lastStamp, job.plan.firstDevice);
      inFlight++;
      void sender.send(batch).then((o) => {
        stats.accepted += o.accepted;
        stats.rejected += o.rejected;
        stats.failed += o.failed;
        inFlight--;
        pump();
        wake?.();
      });
    }
  };
  const ticker = setInterval(() => report({ type: 'stats', stats: { ...stats } }), 250);
  const start = performance.now();
  try {
    for (;;) {
      const due = fleet.nextDue();
      if (due >= job.durationMs || stopped()) break;
      const wait = start + due - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopped()) break;
      const taken = fleet.take(Date.now(), performance.now() - start);
      stats.bad += taken.bad;
      stats.duplicates += taken.duplicates;
      if (taken.silent > 0) stats.silent = fleet.silentDevices();
      for (let i = 0; i < taken.points.length; i += job.batch) {
        const batch = taken.points.slice(i, i + job.batch);
        pending.push(batch);
        stats.queued += batch.length;
      }
      while (stats.queued > maxQueued) {
        const old = pending.shift()!;
        stats.queued -= old.length;
        stats.dropped += old.length;
      }
      pump();
    }
    stats.dropped += stats.queued;
    stats.queued = 0;
    pending.length = 0;
    while (inFlight > 0) {
      await new Promise<void>((r) => { wake = r; });
      wake = null;
    }
  } finally {
    clearInterval(ticker);
    await sender.close();
  }
  return stats;
}

/**
 * Stamps a batch with the time it leaves the harness (the latency clients measure starts
 * there, not in the queue), still strictly increasing per device. A doubled point is one
 * object listed twice in a row, so both copies keep one stamp.
 */
export function stamp(batch: RawPoint[], last: Float64Array, firstDevice: number): void {
  const now = Date.now();
  for (let k = 0; k < batch.length; k++) {
    const p = batch[k];
    if (k > 0 && batch[k - 1] === p) continue;
    const i = Number(p.deviceId.slice(p.deviceId.lastIndexOf('-') + 1)) - firstDevice;
    const ts = now > last[i] ? now : last[i] + 1;
    p.ts = ts;
    last[i] = ts;
  }
}

// As a child process: the job in argv[2], 'ready' once built, 'start' starts the clock, counts
// back over IPC, a 'stop' message ends it early.
if (process.send !== undefined && process.argv[2] !== undefined && process.argv[1]?.includes('device-worker')) {
  const job = JSON.parse(process.argv[2]) as DeviceJob;
  let stop = false;
  let start: () => void = () => undefined;
  const go = new Promise<void>((r) => { start = r; });
  process.on('message', (m) => {
    if (m === 'stop') stop = true;
    if (m === 'start') start();
  });
  const send = (m: WorkerMessage): void => { process.send?.(m); };
  runDevices(job, send, () => stop, go).then(
    (stats) => { send({ type: 'done', stats }); process.disconnect(); },
    (e: unknown) => { send({ type: 'error', message: (e as Error).message }); process.exitCode = 1; process.disconnect(); },
  );
}
