import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeviceJob, DeviceStats, WorkerMessage } from './device-worker.js';

const WORKER = fileURLToPath(new URL('./device-worker.ts', import.meta.url));

const ZERO: DeviceStats = { sent: 0, accepted: 0, rejected: 0, failed: 0, bad: 0, duplicates: 0, silent: 0, queued: 0, dropped: 0 };

/** The device workers of a run, each a child process driving its slice; their counts summed. */
export class DevicePool {
  private readonly children: ChildProcess[] = [];
  private readonly latest: DeviceStats[];
  private readonly finished: Promise<void>;
  private readonly allReady: Promise<void>;
  readonly errors: string[] = [];

  constructor(jobs: readonly DeviceJob[]) {
    this.latest = jobs.map(() => ({ ...ZERO }));
    const ends: Promise<void>[] = [];
    const readies: Promise<void>[] = [];
    jobs.forEach((job, i) => {
      const child = fork(WORKER, [JSON.stringify(job)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.children.push(child);
      readies.push(new Promise((resolve, reject) => {
        child.on('message', (m: WorkerMessage) => { if (m.type === 'ready') resolve(); });
        child.once('exit', (code) => reject(new Error(`device worker ${i} exited (${code}) before it was ready: ${this.errors.join('; ')}`)));
      }));
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'error') this.errors.push(m.message);
        else if (m.type !== 'ready') this.latest[i] = m.stats;
      });
      ends.push(new Promise((resolve) => child.once('exit', (code) => {
        if (code !== 0 && code !== null) this.errors.push(`device worker ${i} exited with ${code}`);
        resolve();
      })));
    });
    this.finished = Promise.all(ends).then(() => undefined);
    this.allReady = Promise.all(readies).then(() => undefined);
  }

  /** Resolves once every worker has built its devices and connected its transport. */
  ready(): Promise<void> {
    return this.allReady;
  }

  /** Starts every worker's clock. */
  start(): void {
    for (const c of this.children) c.send('start');
  }

  /** The counts of every worker so far, added up. */
  stats(): DeviceStats {
    const sum = { ...ZERO };
    for (const s of this.latest) for (const k of Object.keys(sum) as (keyof DeviceStats)[]) sum[k] += s[k];
    return sum;
  }

  /** Resolves when every worker has sent its last batch and exited. */
  done(): Promise<void> {
    return this.finished;
  }

  /** Ends the workers still running (a run that failed half-way). */
  kill(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  stop(): void {
    for (const c of this.children) if (c.connected) c.send('stop');
  }
}
