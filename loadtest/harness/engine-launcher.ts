import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFleet } from '../../engine/simulator/demo-fleet.js';
import { ChildNodeProcess } from './child-process.js';
import { ENGINE_NODE_FLAGS } from '../../engine/node-flags.js';

/**
 * `--start-node`: one engine node of the harness's own, in its own process (engine/main.ts,
 * production mode, on the embedded bus unless `env` names Kafka and stores), loaded with the
 * demo fleet of the run's devices.
 */
export class LaunchedEngine {
  url = '';
  private process: ChildNodeProcess | null = null;

  constructor(private readonly devices: number, private readonly jwtSecret: string, private readonly env: Record<string, string>) {}

  /** Its last 500 log lines. */
  get logs(): readonly string[] {
    return this.process?.logs ?? [];
  }

  async start(timeoutMs = 120_000): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'fleetline-loadtest-'));
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(demoFleet(this.devices)));
    // BENCH_CPU_PROF=dir: the engine writes a V8 CPU profile of its main thread there when it exits.
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    this.process = new ChildNodeProcess({
      name: 'engine',
      entry: fileURLToPath(new URL('../../engine/main.ts', import.meta.url)),
      nodeArgs: [...ENGINE_NODE_FLAGS, ...profile],
      env: {
        PORT: '0', HOST: '127.0.0.1', FLEETLINE_MODE: 'production', JWT_SECRET: this.jwtSecret,
        FLEET_FILE: fleetFile, ACCEPT_UNBOUND_DEVICES: 'true', LOG_LEVEL: 'info', ...this.env,
      },
      keepLines: 500,
      tailLines: 20,
    });
    await this.process.start('fleetline node ready', timeoutMs, (line) => {
      // Known before the node is ready: /metrics answers while it loads (a harness timing its start reads it).
      if (line.includes('"fleetline node listening"')) this.url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    });
    return this.url;
  }

  /** SIGTERM, then SIGKILL if it still runs 15 s later. */
  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM', 15_000);
  }
}
