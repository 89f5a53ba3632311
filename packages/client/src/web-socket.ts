/*
 * The little of a WebSocket the client uses. Browsers' WebSocket and Node's `ws` both have it;
 * Node 20 has no global WebSocket, so there the caller passes one in (`webSocket: WebSocket`
 * from `ws`). The constructor is typed loosely on purpose: each implementation types its event
 * objects its own way, and the client reads only `data`, `code` and `reason` from them.
 */

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: the browser's, or `ws`'s default export in Node. */
export type WebSocketImpl = new (url: string) => unknown;

export const OPEN = 1;

/** The implementation given, else the global one (browsers, Node 22+). */
export function resolveWebSocket(given: WebSocketImpl | undefined): WebSocketImpl {
  const impl = given ?? (globalThis as { WebSocket?: WebSocketImpl }).WebSocket;
  if (impl === undefined) {
    throw new TypeError('no WebSocket implementation: pass one as the `webSocket` option (in Node 20: `import WebSocket from "ws"`)');
  }
  return impl;
}

export function openWebSocket(impl: WebSocketImpl, url: string): WebSocketLike {
  const ws = new impl(url) as WebSocketLike;
  ws.binaryType = 'arraybuffer';
  return ws;
}
