import { FleetlineError } from './domain/errors.js';
import type { VehicleView } from './domain/vehicle-state.js';
import type { Grant } from './ports/client-connection.js';
import { matches, type BBox } from './ports/state-index.js';

/** What a client asked to see. Every given filter must hold (they combine with AND). */
export interface Subscription {
  readonly vehicles?: ReadonlySet<string>;
  readonly companies?: ReadonlySet<string>;
  readonly bbox?: BBox;
}

const MAX_IDS = 10_000;

function stringList(v: unknown, what: string): Set<string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > MAX_IDS || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 64)) {
    throw new FleetlineError('BAD_SUBSCRIPTION', `${what} must be an array of at most ${MAX_IDS} ids`);
  }
  return new Set(v as string[]);
}

export function parseBBox(v: unknown): BBox {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new FleetlineError('BAD_SUBSCRIPTION', 'bbox must be [west, south, east, north] in degrees');
  }
  const [w, s, e, n] = v as number[];
  if (w < -180 || w > 180 || e < -180 || e > 180 || s < -90 || s > 90 || n < -90 || n > 90 || s > n) {
    throw new FleetlineError('BAD_SUBSCRIPTION', 'bbox out of range: west/east in [-180,180], south <= north in [-90,90]');
  }
  return [w, s, e, n];
}

/** Parses the fields of a `sub` frame. Throws FleetlineError BAD_SUBSCRIPTION. */
export function parseSubscription(frame: Record<string, unknown>): Subscription {
  const vehicles = stringList(frame.vehicles, 'vehicles');
  const companies = stringList(frame.companies, 'companies');
  const bbox = frame.bbox === undefined || frame.bbox === null ? undefined : parseBBox(frame.bbox);
  return { ...(vehicles ? { vehicles } : {}), ...(companies ? { companies } : {}), ...(bbox ? { bbox } : {}) };
}

export function inScope(sub: Subscription, grant: Grant, v: VehicleView): boolean {
  if (sub.vehicles && !sub.vehicles.has(v.id)) return false;
  return matches(v, grant, sub.companies, sub.bbox);
}
