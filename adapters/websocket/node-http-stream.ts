import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpStream, HttpStreamSession } from '../../actors/ports/transport.js';
import { CLOSE_DRAIN_MS, guardStream, openStream, type WireResponse } from './http-wire.js';

/** A streaming response on node:http (the `ws` transport): ServerResponse does the buffering and reports it. */
export class NodeHttpStream implements HttpStream {
  private session?: HttpStreamSession;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    readonly remoteAddress: string,
    private readonly maxBackpressureBytes: number,
  ) {}

  /** Writes the head and hands the stream to the handler; `onClosed` runs once it is over. */
  start(wire: WireResponse, log: Logger | undefined, onClosed: () => void): void {
    const res = this.res;
    for (const [name, value] of wire.headers) res.setHeader(name, value);
    res.writeHead(wire.status);
    res.flushHeaders();
    // Small events must leave at once, not wait for Nagle (node:http sets it too; made explicit for streams).
    res.socket?.setNoDelay(true);
    res.on('drain', () => guardStream(log, 'drain', () => this.session?.drain()));
    res.once('close', () => {
      this.ended = true;
      onClosed();
      guardStream(log, 'close', () => this.session?.closed());
    });
    this.session = openStream(wire, this, log);
  }

  get open(): boolean {
    return !this.ended && !this.res.destroyed;
  }

  write(chunk: Uint8Array): boolean {
    if (!this.open || this.res.writableEnded || chunk.byteLength === 0) return false;
    // Mirrors the WebSocket transports: above the limit a write is dropped, never queued.
    if (this.res.writableLength > this.maxBackpressureBytes) return false;
    return this.res.write(chunk);
  }

  bufferedAmount(): number {
    return this.open ? this.res.writableLength : 0;
  }

  end(): void {
    if (!this.open || this.res.writableEnded) return;
    this.res.end();
    // A reader that never takes the queued bytes must not hold the socket forever.
    const deadline = setTimeout(() => this.res.destroy(), CLOSE_DRAIN_MS);
    deadline.unref();
    this.res.once('close', () => clearTimeout(deadline));
  }

  /** Server shutdown: the handler says goodbye and ends the stream. */
  stop(code: number, reason: string, log: Logger | undefined): void {
    if (this.open) guardStream(log, 'stop', () => this.session?.stop(code, reason));
  }
}
