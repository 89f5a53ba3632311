import type { Logger } from 'pino';
import type * as Uws from 'uWebSockets.js';
import type { HttpStream, HttpStreamSession } from '../../actors/ports/transport.js';
import { CLOSE_DRAIN_MS, guardStream, openStream, type WireResponse } from './http-wire.js';

/**
 * A streaming response on uWebSockets.js. uWS buffers whatever the kernel does not take and
 * reports only "backpressure or not", never how much: so once a write is held back, later
 * chunks wait here, in a queue whose size is known, and go out as uWS asks for more
 * (onWritable). What uWS itself holds is counted as the chunk it refused, until it asks.
 */
export class UwsHttpStream implements HttpStream {
  private session?: HttpStreamSession;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  /** Bytes of the last chunk uWS buffered rather than sent (0: it has nothing of ours pending). */
  private heldByUws = 0;
  private ending?: NodeJS.Timeout;
  private over = false;

  constructor(
    private readonly res: Uws.HttpResponse,
    readonly remoteAddress: string,
    private readonly maxBackpressureBytes: number,
    private readonly log: Logger | undefined,
    private readonly onClosed: () => void,
  ) {}

  /** Writes the head, hands the stream to the handler. The caller routes onAborted to aborted(). */
  start(wire: WireResponse): void {
    this.res.cork(() => {
      this.res.writeStatus(wire.statusLine);
      for (const [name, value] of wire.headers) this.res.writeHeader(name, value);
    });
    this.res.onWritable(() => this.writable());
    this.session = openStream(wire, this, this.log);
  }

  get open(): boolean {
    return !this.over && this.ending === undefined;
  }

  write(chunk: Uint8Array): boolean {
    if (!this.open || chunk.byteLength === 0) return false; // a zero-length chunk would end the response
    if (this.bufferedAmount() > this.maxBackpressureBytes) return false;
    if (this.heldByUws > 0 || this.queue.length > 0) {
      // Copied: the caller may reuse its buffer once write() returns.
      this.queue.push(Buffer.from(chunk));
      this.queuedBytes += chunk.byteLength;
      return false;
    }
    return this.send(chunk);
  }

  bufferedAmount(): number {
    return this.over ? 0 : this.queuedBytes + this.heldByUws;
  }

  end(): void {
    if (!this.open) return;
    if (this.heldByUws === 0 && this.queue.length === 0) {
      this.finish();
      return;
    }
    // Ends once the queue drained (writable()); a reader that takes nothing is cut after the wait.
    this.ending = setTimeout(() => this.cut(), CLOSE_DRAIN_MS);
    this.ending.unref();
  }

  /** Server shutdown: the handler says goodbye and ends the stream. */
  stop(code: number, reason: string): void {
    if (this.open) guardStream(this.log, 'stop', () => this.session?.stop(code, reason));
  }

  /** The client went away (uWS onAborted): the response must not be touched again. */
  aborted(): void {
    this.closed();
  }

  /** Force-closes the socket (its onAborted follows). */
  cut(): void {
    if (this.over) return;
    this.res.close();
    this.closed();
  }

  private send(chunk: Uint8Array): boolean {
    let ok = false;
    this.res.cork(() => { ok = this.res.write(chunk); });
    if (!ok) this.heldByUws = chunk.byteLength;
    return ok;
  }

  /** uWS can take more: hand it the queue, chunk by chunk, until it holds one back again. */
  private writable(): boolean {
    if (this.over) return true;
    this.heldByUws = 0;
    while (this.queue.length > 0 && this.heldByUws === 0) {
      const chunk = this.queue.shift() as Buffer;
      this.queuedBytes -= chunk.byteLength;
      this.send(chunk);
    }
    if (this.heldByUws === 0 && this.queue.length === 0) {
      if (this.ending !== undefined) this.finish();
      else guardStream(this.log, 'drain', () => this.session?.drain());
    }
    // true: uWS goes on writing out what it holds.
    return true;
  }

  private finish(): void {
    if (this.over) return;
    this.res.cork(() => this.res.end());
    this.closed();
  }

  private closed(): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.ending);
    this.ending = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.onClosed();
    guardStream(this.log, 'close', () => this.session?.closed());
  }
}
