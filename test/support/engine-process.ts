import { fileURLToPath } from 'node:url';
import { ChildNodeProcess } from '../../loadtest/harness/child-process.js';
import { TEST_SECRET } from './engine.js';
import { ENGINE_NODE_FLAGS } from '../../engine/node-flags.js';

/** An engine node in its own process, for tests that kill -9 it or restart it. */
export class EngineProcess {
  port = 0;
  private readonly process: ChildNodeProcess;
  private readySeen = false;

  constructor(private readonly env: Record<string, string>) {
    this.process = new ChildNodeProcess({
      name: 'engine',
      entry: fileURLToPath(new URL('../../engine/main.ts', import.meta.url)),
      nodeArgs: ENGINE_NODE_FLAGS,
      env: { PORT: '0', HOST: '127.0.0.1', FLEETLINE_MODE: 'production', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ...env },
      keepLines: 2000,
      tailLines: 30,
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Its output (the last 2,000 lines, over every start). */
  get logs(): readonly string[] {
    return this.process.logs;
  }

  /** Starts the node and resolves once it listens (and has acquired its partitions). */
  async start(timeoutMs = 60_000): Promise<void> {
    this.readySeen = false;
    // The port opens first; the node is usable once it has restored its actors.
    await this.process.start('fleetline node ready', timeoutMs, (line) => {
      if (line.includes('"fleetline node listening"')) this.port = (JSON.parse(line) as { port: number }).port;
    });
    this.readySeen = true;
  }

  /** The node's NODE_ID (as given in its environment). */
  get nodeId(): string {
    return this.env.NODE_ID ?? '';
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.process.running;
  }

  /**
   * Resolves with the exit code once the process ends on its own (a drained node exits 0);
   * rejects if it still runs after `timeoutMs`.
   */
  async exited(timeoutMs = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`engine ${this.nodeId} still runs after ${timeoutMs} ms:\n${this.process.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.process.whenExited, timeout]);
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
    await this.process.stop('SIGKILL');
  }

  /** Graceful shutdown (SIGTERM, never escalated: the tests read how it ends); resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.process.stop('SIGTERM');
  }
}
