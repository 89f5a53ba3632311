import { FleetlineError } from '../actors/domain/errors.js';

/**
 * The Server-Sent Events wire format of `GET /v1/sse` (docs/protocol.md, Server-Sent Events):
 * one event per frame, `event: <t>`, `id: <session>:<epoch>:<seq>` on sequenced frames, and
 * `data: <the frame as JSON>`.
 */

/** The frames that carry `seq` (docs/protocol.md): only their events get an id. */
export const SEQUENCED_FRAMES: ReadonlySet<string> = new Set(['snap', 'd', 'gone', 'ev', 'unsubbed']);

/** Where a client stands in its session's stream: what an event id names and Last-Event-ID returns. */
export interface StreamPosition {
  readonly session: string;
  readonly epoch: number;
  readonly seq: number;
}

/** Session ids are opaque base64url (docs/protocol.md); nothing else may reach a frame or a path. */
export const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const EVENT_ID = /^([A-Za-z0-9_-]{1,128}):(\d{1,15}):(\d{1,15})$/;
/** Frame types are the server's own lower-case words; an event name must never hold a line end. */
const EVENT_NAME = /^[a-z]{1,32}$/;

export function eventId(p: StreamPosition): string {
  return `${p.session}:${p.epoch}:${p.seq}`;
}

/** Parses a Last-Event-ID (header or `?lastEventId=`). Throws FleetlineError BAD_QUERY naming `what`. */
export function parseLastEventId(raw: string, what: string): StreamPosition {
  const m = EVENT_ID.exec(raw);
  if (m === null) throw new FleetlineError('BAD_QUERY', `${what}: must be <session>:<epoch>:<seq> as the stream's event ids are`);
  const epoch = Number(m[2]);
  if (epoch < 1) throw new FleetlineError('BAD_QUERY', `${what}: the epoch starts at 1`);
  return { session: m[1], epoch, seq: Number(m[3]) };
}

/** One event. `data` is JSON, which never holds a raw line end, so one `data:` line carries it. */
export function sseEvent(type: string, data: string, id?: string): Buffer {
  if (!EVENT_NAME.test(type)) throw new Error(`not an SSE event name: ${JSON.stringify(type).slice(0, 40)}`);
  return Buffer.from(`event: ${type}\n${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`, 'utf8');
}

/** A comment line: ignored by clients, it keeps proxies from closing a quiet stream. */
export function sseComment(text: string): Buffer {
  return Buffer.from(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`, 'utf8');
}
