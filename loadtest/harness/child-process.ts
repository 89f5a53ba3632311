import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildNodeOptions {
  /** What error messages call it ("engine", the entry's path). */
  readonly name: string;
  /** The TypeScript entry point it runs (through tsx). */
  readonly entry: string;
  /** Its environment, over this process's. */
  readonly env: Record<string, string>;
  /** Node options before the entry (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Log lines kept in `logs`; the oldest go first. */
  readonly keepLines: number;
  /** How many of the last lines an error about it quotes. */
  readonly tailLines: number;
}

/**
 * A TypeScript entry point (an engine node, a baseline service) in a child Node process that
 * logs pino JSON lines on stdout: up once it logs its ready message, its output kept in `logs`
 * (stderr too, to say why it failed), stopped by a signal. Started again after it ended, it
 * keeps adding to the same `logs`.
 */
export class ChildNodeProcess {
  readonly logs: string[] = [];
  private child: ChildProcess | null = null;
  private exit: Promise<number | null> = Promise.resolve(null);

  constructor(private readonly options: ChildNodeOptions) {}

  /**
   * Spawns it and resolves with the fields of the line that logs `readyMessage`; `onLine` sees
   * every stdout line before that check. Rejects, quoting its last lines, when it exits first
   * or is not ready within `timeoutMs`.
   */
  start(readyMessage: string, timeoutMs: number, onLine?: (line: string) => void): Promise<Record<string, unknown>> {
    const { name, entry, env, nodeArgs = [] } = this.options;
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exit = new Promise((r) => child.once('exit', (code) => r(code)));
    let buffer = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.keep(line);
          onLine?.(line);
          if (line.includes(`"${readyMessage}"`)) {
            clearTimeout(timer);
            resolve(fieldsOf(line));
          }
        }
      });
      child.stderr?.on('data', (d: Buffer) => this.keep(d.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${this.tail()}`));
      });
    });
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code once the last process started ends (null: ended by a signal, or none started). */
  get whenExited(): Promise<number | null> {
    return this.exit;
  }

  /**
   * Sends `signal` and resolves with the exit code once the process ended; with `killAfterMs`,
   * one still running that long later gets SIGKILL. One not running: its exit code, if any.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill(signal);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const code = await this.exit;
    clearTimeout(timer);
    this.child = null;
    return code;
  }

  /** Its last lines, as errors quote them. */
  tail(): string {
    return this.logs.slice(-this.options.tailLines).join('\n');
  }

  private keep(line: string): void {
    this.logs.push(line);
    if (this.logs.length > this.options.keepLines) this.logs.shift();
  }
}

/** A pino line's fields ({} when it is not JSON). */
function fieldsOf(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {};
  }
}
