import { z } from 'zod';
import { FleetlineError } from '../actors/domain/errors.js';
import type { HttpRequest } from '../actors/ports/transport.js';
import { parseSubscription } from '../actors/subscription.js';
import { bearerToken } from './auth.js';
import { bbox, decimal, idList, MAX_QUERY_IDS, parseQuery } from './http-schemas.js';
import { parseLastEventId, type StreamPosition } from './sse-events.js';

/**
 * `GET /v1/sse`: the query string turned into the frames a WebSocket client would send, so that
 * the subscriber actor serves both alike: the token of an `auth`, a `sub` (none of its
 * selectors: every vehicle the token grants), and a `resume` when the client names its last
 * event (EventSource sends `Last-Event-ID` when it reconnects by itself).
 */
export interface SseRequest {
  readonly token: string;
  readonly sub: Readonly<Record<string, unknown>> & { readonly t: 'sub' };
  /** From Last-Event-ID or `?lastEventId=`: resume this session instead of subscribing afresh. */
  readonly resume?: StreamPosition;
}

const list = z.string().transform((s) => s.split(','));

const sseQuerySchema = z.strictObject({
  token: z.string().optional(),
  lastEventId: z.string().optional(),
  vehicles: idList(MAX_QUERY_IDS).optional(),
  companies: idList(MAX_QUERY_IDS).optional(),
  groups: idList(MAX_QUERY_IDS).optional(),
  bbox: bbox.optional(),
  zoom: decimal.optional(),
  status: list.optional(),
  alerts: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  fields: z.enum(['min', 'full']).optional(),
});

/**
 * Reads and checks a request. Throws FleetlineError: BAD_QUERY (a malformed, unknown or repeated
 * parameter), BAD_SUBSCRIPTION (a subscription the `sub` frame would be refused for),
 * UNAUTHORIZED (no token). The token itself is verified by the caller.
 */
export function parseSseRequest(req: Pick<HttpRequest, 'query' | 'header'>): SseRequest {
  const q = parseQuery(sseQuerySchema, req.query);
  const token = bearerToken(req.header('authorization'), req.query);
  if (token === undefined || token === '') throw new FleetlineError('UNAUTHORIZED', 'a token is required: ?token= or Authorization: Bearer');
  const filter = q.status !== undefined || q.alerts !== undefined ? { status: q.status, alerts: q.alerts } : undefined;
  const sub = {
    t: 'sub' as const, vehicles: q.vehicles, companies: q.companies, groups: q.groups, bbox: q.bbox, zoom: q.zoom, filter, fields: q.fields,
  };
  parseSubscription(sub);
  const header = req.header('last-event-id');
  const lastEventId = q.lastEventId ?? (header === '' ? undefined : header);
  const resume = lastEventId === undefined ? undefined : parseLastEventId(lastEventId, q.lastEventId !== undefined ? 'lastEventId' : 'Last-Event-ID');
  return { token, sub: withoutUndefined(sub), ...(resume ? { resume } : {}) };
}

/** The `resume` frame of the agreed contract (/v1/stream): the session and the last seq applied. */
export function resumeFrame(p: StreamPosition): Record<string, unknown> {
  return { t: 'resume', session: p.session, seq: p.seq };
}

function withoutUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
