/**
 * The HTTP + WebSocket server port. Two adapters implement it: uWebSockets.js (native, the
 * default when its binary loads) and `ws` over node:http (portable). Routes and protocol
 * logic live in engine/http-api.ts and actors/subscriber-actor.ts, never in an adapter.
 */

export interface HttpRequest {
  readonly method: string;
  /** Path without the query string, e.g. /v1/vehicles/abc */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header name → value. */
  header(name: string): string | undefined;
  /** Remote address as text (for logs and rate limits). */
  readonly remoteAddress: string;
  /** The whole body (empty for GET). Bodies over `maxBodyBytes` never reach a handler: the adapter answers 413. */
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /**
   * A streaming answer (Server-Sent Events): the status and headers go out at once, then the
   * adapter calls this with the open stream and writes what the handler writes, until either
   * side ends it. `body` is ignored; the length is unknown (chunked). uWebSockets.js sends
   * the head with the first chunk: write one at once.
   */
  readonly stream?: (out: HttpStream) => HttpStreamSession;
}

/** An HTTP response body being written, as a handler sees it (one per streaming request). */
export interface HttpStream {
  /**
   * Writes a chunk. Returns false when it was only queued behind backpressure (a drain()
   * follows) or, above the transport's limit, dropped, as WsConnection.send.
   */
  write(chunk: Uint8Array): boolean;
  /** Bytes written and not yet taken by the kernel. */
  bufferedAmount(): number;
  /** Ends the response after what is queued (waiting up to 30 s for a slow reader, then cut). */
  end(): void;
  readonly remoteAddress: string;
}

export interface HttpStreamSession {
  /** The socket is writable again after backpressure. */
  drain(): void;
  /** The stream is over (ended, or the client went away); called once. Nothing may be written after it. */
  closed(): void;
  /** The server is shutting down: say so to the client and end the stream (like a WebSocket close code). */
  stop(code: number, reason: string): void;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;

export interface WsConnection {
  /** Sends one binary frame. Returns false when the frame was dropped or only buffered because of backpressure. */
  send(frame: Uint8Array): boolean;
  /** Bytes queued in the socket and not yet written to the kernel. */
  bufferedAmount(): number;
  /** Sends a close frame with `code` after the frames already queued (waiting up to 30 s for a slow reader). */
  close(code: number, reason: string): void;
  /** Runs `write`; the frames it sends leave in one syscall (uWebSockets.js corks them). Optional: ws writes as it goes. */
  cork?(write: () => void): void;
  readonly remoteAddress: string;
}

export interface WsUpgrade {
  readonly path: string;
  readonly query: URLSearchParams;
  header(name: string): string | undefined;
  readonly remoteAddress: string;
}

export interface WsHandlers {
  /** Returns the per-connection handler; called once the upgrade completed. */
  open(conn: WsConnection, upgrade: WsUpgrade): WsSession;
}

export interface WsSession {
  /**
   * A binary or text frame from the client (text is passed as its UTF-8 bytes, with isBinary
   * false). The bytes are the session's to keep: an adapter whose server reuses its buffer
   * passes a copy.
   */
  message(data: Uint8Array, isBinary: boolean): void;
  /** The socket is writable again after backpressure. */
  drain(): void;
  /** The adapter is closing the connection for a limit it enforces itself (counted by the engine); closed() follows. */
  limited?(code: TransportLimit): void;
  closed(code: number): void;
}

/** The limits an adapter enforces itself: a frame over maxFrameBytes (1009), a ping unanswered for pongTimeoutSeconds (1001). */
export type TransportLimit = 'FRAME_TOO_LARGE' | 'HEARTBEAT_TIMEOUT';

export interface TransportOptions {
  readonly maxBodyBytes: number;
  /** A larger client frame closes the connection with 1009 (CloseCodes.MESSAGE_TOO_BIG). */
  readonly maxFrameBytes: number;
  /** Seconds between the protocol-level pings the server sends each WebSocket (WS_PING_INTERVAL_S). 0 disables pings and the timeout. */
  readonly pingIntervalSeconds: number;
  /** Seconds a ping may stay unanswered (no pong, no frame) before the connection is closed with 1001 (CloseCodes.IDLE_TIMEOUT). */
  readonly pongTimeoutSeconds: number;
}

export interface Transport {
  readonly kind: 'uws' | 'ws';
  /** The one handler for every plain HTTP request (routing is engine/http-router.ts's job). */
  onRequest(handler: HttpHandler): void;
  /** WebSocket upgrades on exactly this path; an upgrade on any other path is answered 404. */
  websocket(path: string, handlers: WsHandlers): void;
  /** Starts listening; port 0 picks a free port. Resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, closes every WebSocket with `code`, resolves when the listen socket is closed. */
  close(code: number, reason: string): Promise<void>;
}
