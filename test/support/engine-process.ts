import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET } from './engine.js';

/** An engine node in its own process, for tests that kill -9 it or restart it. */
export class EngineProcess {
  port = 0;
  private child: ChildProcess | null = null;
  private exit: Promise<number | null> = Promise.resolve(null);
  private readySeen = false;
  readonly logs: string[] = [];

  constructor(private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the node and resolves once it listens (and has acquired its partitions). */
  async start(timeoutMs = 60_000): Promise<void> {
    const main = fileURLToPath(new URL('../../engine/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: {
        ...process.env, PORT: '0', HOST: '127.0.0.1', FLEETLINE_MODE: 'production', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.readySeen = false;
    this.exit = new Promise((r) => child.once('exit', (code) => r(code)));
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine did not start within ${timeoutMs} ms:\n${this.logs.slice(-30).join('\n')}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.logs.push(line);
          if (this.logs.length > 2000) this.logs.shift();
          // The port opens first; the node is usable once it has restored its actors.
          if (line.includes('"fleetline node listening"')) this.port = (JSON.parse(line) as { port: number }).port;
          if (line.includes('"fleetline node ready"')) {
            this.readySeen = true;
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.stderr?.on('data', (d: Buffer) => this.logs.push(d.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`engine exited (${code ?? signal}) before it was ready:\n${this.logs.slice(-30).join('\n')}`));
      });
    });
  }

  /** The node's NODE_ID (as given in its environment). */
  get nodeId(): string {
    return this.env.NODE_ID ?? '';
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Resolves with the exit code once the process ends on its own (a drained node exits 0);
   * rejects if it still runs after `timeoutMs`.
   */
  async exited(timeoutMs = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`engine ${this.nodeId} still runs after ${timeoutMs} ms:\n${this.logs.slice(-30).join('\n')}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the process runs and has said it is ready (its intake accepts points). */
  get ready(): boolean {
    return this.readySeen && this.running;
  }

  /** kill -9: no shutdown hook runs, nothing is flushed. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Graceful shutdown (SIGTERM); resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill(sig);
    const code = await this.exit;
    this.child = null;
    return code;
  }
}
