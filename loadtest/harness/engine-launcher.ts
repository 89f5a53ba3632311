import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFleet } from '../../engine/simulator/demo-fleet.js';

/**
 * `--start-node`: one engine node of the harness's own, in its own process (engine/main.ts,
 * production mode, on the embedded bus unless `env` names Kafka and stores), loaded with the
 * demo fleet of the run's devices.
 */
export class LaunchedEngine {
  url = '';
  readonly logs: string[] = [];
  private child: ChildProcess | null = null;

  constructor(private readonly devices: number, private readonly jwtSecret: string, private readonly env: Record<string, string>) {}

  async start(timeoutMs = 120_000): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'fleetline-loadtest-'));
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(demoFleet(this.devices)));
    const main = fileURLToPath(new URL('../../engine/main.ts', import.meta.url));
    // BENCH_CPU_PROF=dir: the engine writes a V8 CPU profile of its main thread there when it exits.
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    const child = spawn(process.execPath, [...profile, '--import', 'tsx', main], {
      env: {
        ...process.env, PORT: '0', HOST: '127.0.0.1', FLEETLINE_MODE: 'production', JWT_SECRET: this.jwtSecret,
        FLEET_FILE: fleetFile, ACCEPT_UNBOUND_DEVICES: 'true', LOG_LEVEL: 'info', ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let buffer = '';
    let port = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine not ready within ${timeoutMs} ms:\n${this.logs.slice(-20).join('\n')}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.logs.push(line);
          if (this.logs.length > 500) this.logs.shift();
          if (line.includes('"fleetline node listening"')) {
            port = (JSON.parse(line) as { port: number }).port;
            // Known before the node is ready: /metrics answers while it loads (a harness timing its start reads it).
            this.url = `http://127.0.0.1:${port}`;
          }
          if (line.includes('"fleetline node ready"')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.stderr?.on('data', (d: Buffer) => this.logs.push(d.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`engine exited (${code ?? signal}) before it was ready:\n${this.logs.slice(-20).join('\n')}`));
      });
    });
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
