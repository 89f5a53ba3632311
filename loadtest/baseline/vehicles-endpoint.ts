import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { Grant } from '../../actors/ports/client-connection.js';
import type { HttpRequest, HttpResponse } from '../../actors/ports/transport.js';
import type { Subscription } from '../../actors/subscription.js';
import type { JwtAuth } from '../../engine/auth.js';

const list = (v: string | null): string[] | null => (v === null ? null : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0));

/** The filter of a GET /v1/vehicles query (company=, bbox=w,s,e,n, ids=; combined with AND), or an error text. */
export function vehiclesFilter(query: URLSearchParams): Subscription | string {
  const companies = list(query.get('company'));
  const ids = list(query.get('ids'));
  const box = list(query.get('bbox'));
  let bbox: [number, number, number, number] | undefined;
  if (box !== null) {
    const n = box.map(Number);
    if (n.length !== 4 || !n.every(Number.isFinite)) return 'bbox must be w,s,e,n';
    bbox = [n[0], n[1], n[2], n[3]];
  }
  return { fields: 'full', ...(companies && { companies: new Set(companies) }), ...(ids && { vehicles: new Set(ids) }), ...(bbox && { bbox }) };
}

/**
 * GET /v1/vehicles of the baseline: the current state of the vehicles a filter and the token's
 * grant select, read from Redis as a classic pipeline's REST service does; the same answer
 * shape as Fleetline's (`{vehicles: [view…]}`), so the harness checks a client of either.
 */
export async function currentVehicles(req: HttpRequest, auth: JwtAuth, read: (grant: Grant, sub: Subscription) => Promise<VehicleView[]>): Promise<HttpResponse> {
  const header = req.header('authorization');
  const token = header?.startsWith('Bearer ') ? header.slice(7) : req.query.get('token');
  let grant: Grant;
  try {
    if (!token) throw new Error('no token');
    grant = (await auth.verifySession(token)).grant;
  } catch (e) {
    return { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'BAD_TOKEN', message: (e as Error).message }) };
  }
  const filter = vehiclesFilter(req.query);
  if (typeof filter === 'string') return { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'BAD_QUERY', message: filter }) };
  const vehicles = await read(grant, filter);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vehicles }) };
}
