import { RateMeter } from './rate-meter.js';

/** What the client measures about its stream, for a status line or a dashboard. */
export interface ClientStats {
  /** Vehicle updates (delta entries and removals) per second, over the last seconds. */
  readonly updatesPerSecond: number;
  readonly framesPerSecond: number;
  readonly eventsPerSecond: number;
  readonly bytesPerSecond: number;
  /** Frames received since the client was made, over all connections. */
  readonly framesReceived: number;
  /**
   * Delivery latency: the server's clock now (estimated from pings) minus the newest position
   * time in a delta frame, smoothed; null before the first delta. It includes the device's own delay.
   */
  readonly latencyMs: number | null;
  /** Round trip of the last ping; null before the first pong. */
  readonly rttMs: number | null;
  /** Server clock minus local clock (ms), from the last pong. */
  readonly clockOffsetMs: number | null;
  /** The last `seq` applied. */
  readonly lastSeq: number;
  /** Frames whose `seq` was not the last one plus one (a lost or repeated frame). */
  readonly seqGaps: number;
  /** Connections opened after the first. */
  readonly reconnects: number;
}

/** The counters behind ClientStats. */
export class StreamStats {
  readonly updates: RateMeter;
  readonly frames: RateMeter;
  readonly events: RateMeter;
  readonly bytes: RateMeter;
  framesReceived = 0;
  latencyMs: number | null = null;
  rttMs: number | null = null;
  clockOffsetMs: number | null = null;
  seqGaps = 0;
  reconnects = 0;
  private pingSentAt = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.updates = new RateMeter(5, now);
    this.frames = new RateMeter(5, now);
    this.events = new RateMeter(5, now);
    this.bytes = new RateMeter(5, now);
  }

  frame(bytes: number): void {
    this.framesReceived++;
    this.frames.add();
    this.bytes.add(bytes);
  }

  pingSent(): void {
    this.pingSentAt = this.now();
  }

  /** A pong: the round trip, and the server clock's offset (it read its clock about half a round trip ago). */
  pong(serverTs: unknown): void {
    if (this.pingSentAt === 0) return;
    const now = this.now();
    this.rttMs = now - this.pingSentAt;
    if (typeof serverTs === 'number') this.clockOffsetMs = serverTs - (now - this.rttMs / 2);
    this.pingSentAt = 0;
  }

  /** A delta frame whose newest position is `newestTs` (ms since epoch, server clock). */
  delivered(newestTs: number): void {
    const latency = this.now() + (this.clockOffsetMs ?? 0) - newestTs;
    this.latencyMs = this.latencyMs === null ? latency : this.latencyMs * 0.9 + latency * 0.1;
  }

  snapshot(lastSeq: number): ClientStats {
    return {
      updatesPerSecond: this.updates.rate,
      framesPerSecond: this.frames.rate,
      eventsPerSecond: this.events.rate,
      bytesPerSecond: this.bytes.rate,
      framesReceived: this.framesReceived,
      latencyMs: this.latencyMs,
      rttMs: this.rttMs,
      clockOffsetMs: this.clockOffsetMs,
      lastSeq,
      seqGaps: this.seqGaps,
      reconnects: this.reconnects,
    };
  }
}
