import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Frame } from './engine.js';

/** One parsed event of a text/event-stream. */
export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly frame: Frame;
}

type View = Record<string, unknown> & { id: string };

/**
 * A raw Server-Sent Events client on node:http: the stream is parsed by hand, per the HTML
 * standard's rules (lines, `field: value`, one optional space after the colon, comments from
 * `:`, an event dispatched at the blank line), with no SSE library between the test and the
 * bytes. It keeps the vehicles the frames describe, as a client would, and checks that `seq`
 * goes up by one per sequenced event within a session epoch (from the event ids).
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** The vehicles as the frames so far describe them (snap replaces, or merges when partial; d merges; gone removes). */
  readonly vehicles: Map<string, View>;
  /** The last event id seen (what EventSource would send as Last-Event-ID). */
  lastEventId: string | undefined;
  ended = false;
  /** The body of a non-200 answer. */
  body = '';
  seqViolation: Error | null = null;
  private buffer = '';
  private pending: { event?: string; id?: string; data: string[] } = { data: [] };
  private waiters: (() => void)[] = [];
  private lastSeq: { epochKey: string; seq: number } | null = null;

  private constructor(readonly res: IncomingMessage, readonly socket: Socket, vehicles: Map<string, View>) {
    this.vehicles = vehicles;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (res.statusCode === 200) this.parse(chunk);
      else this.body += chunk;
      this.notify();
    });
    res.on('end', () => this.finish());
    res.on('close', () => this.finish());
    res.on('error', () => this.finish());
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.res.headers;
  }

  /** Opens a stream; resolves once the head arrived (any status). `vehicles` continues a previous client's state. */
  static open(url: string, headers: Record<string, string> = {}, vehicles = new Map<string, View>()): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => resolve(new SseClient(res, req.socket as Socket, vehicles)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Waits until an event after index `from` satisfies `pred`. */
  async next(pred: (e: SseEvent) => boolean, timeoutMs = 5000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.seqViolation) throw this.seqViolation;
      const e = this.events.slice(from).find(pred);
      if (e) return e;
      if (this.ended) throw new Error(`stream ended while waiting; got ${JSON.stringify(this.events.map((x) => x.event))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((x) => x.event))}`);
      await this.wait(left);
    }
  }

  /** Waits for a frame of type `t` after index `from`. */
  async frame(t: string, from = 0, timeoutMs = 5000): Promise<Frame> {
    return (await this.next((e) => e.event === t, timeoutMs, from)).frame;
  }

  /** Waits until a comment line arrives. */
  async comment(pred: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = this.comments.find(pred);
      if (c !== undefined) return c;
      if (this.ended) throw new Error('stream ended while waiting for a comment');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching comment within ${timeoutMs} ms; got ${JSON.stringify(this.comments)}`);
      await this.wait(left);
    }
  }

  /** Resolves once the response ended (by the server, or the connection went). */
  async done(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('stream not ended');
      await this.wait(left);
    }
  }

  /** Drops the connection, as a browser tab that closes does. */
  close(): void {
    this.socket.destroy();
    if (this.seqViolation) throw this.seqViolation;
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.waiters.push(() => { clearTimeout(t); r(); });
    });
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private parse(chunk: string): void {
    this.buffer += chunk;
    let eol: number;
    while ((eol = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, eol);
      this.buffer = this.buffer.slice(eol + (this.buffer.startsWith('\r\n', eol) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.pending.event = value;
    else if (field === 'id') this.pending.id = value;
    else if (field === 'data') this.pending.data.push(value);
  }

  private dispatch(): void {
    const p = this.pending;
    this.pending = { data: [] };
    if (p.id !== undefined) this.lastEventId = p.id;
    if (p.data.length === 0) return;
    const frame = JSON.parse(p.data.join('\n')) as Frame;
    const event = p.event ?? 'message';
    if (frame.t !== event) this.seqViolation ??= new Error(`event ${event} carries a frame of type ${frame.t}`);
    this.checkSeq(frame, p.id);
    this.apply(frame);
    this.events.push({ event, id: p.id, frame });
  }

  private checkSeq(frame: Frame, id: string | undefined): void {
    if (id === undefined || typeof frame.seq !== 'number') return;
    const [session, epoch, seq] = id.split(':');
    if (Number(seq) !== frame.seq) this.seqViolation ??= new Error(`event id ${id} names seq ${seq}, its frame ${frame.seq}`);
    const epochKey = `${session}:${epoch}`;
    if (this.lastSeq !== null && this.lastSeq.epochKey === epochKey && frame.seq !== this.lastSeq.seq + 1) {
      this.seqViolation ??= new Error(`seq ${frame.seq} after ${this.lastSeq.seq} in ${epochKey}`);
    }
    this.lastSeq = { epochKey, seq: frame.seq };
  }

  private apply(frame: Frame): void {
    if (frame.t === 'snap') {
      if (frame.partial !== true) this.vehicles.clear();
      for (const v of frame.vehicles as View[]) this.vehicles.set(v.id, { ...this.vehicles.get(v.id), ...v });
    } else if (frame.t === 'd') {
      for (const u of frame.u as View[]) this.vehicles.set(u.id, { ...this.vehicles.get(u.id), ...u });
    } else if (frame.t === 'gone') {
      for (const id of frame.ids as string[]) this.vehicles.delete(id);
    } else if (frame.t === 'unsubbed') {
      this.vehicles.clear();
    }
  }
}
