import { FleetlineError } from './domain/errors.js';
import type { VehicleDelta, VehicleView } from './domain/vehicle-state.js';
import type { Grant } from './ports/client-connection.js';
import { parseLevelOfDetail, type LevelOfDetail } from './level-of-detail.js';
import { matches, type BBox } from './ports/state-index.js';

/** What a vehicle is doing, as the status filter sees it: four classes, each vehicle in exactly one. */
export type MotionStatus = 'moving' | 'stopped' | 'idle' | 'offline';
export const MOTION_STATUSES: readonly MotionStatus[] = ['moving', 'stopped', 'idle', 'offline'];

/** `min`: the compact position set for maps; `full`: the whole view (docs/protocol.md lists both). */
export type PayloadFields = 'min' | 'full';

/** Which groups a vehicle is in, and which vehicles a group holds (reference data). */
export interface GroupMembership {
  groupsOf(vehicleId: string): readonly string[] | undefined;
  membersOf(groupId: string): readonly string[] | undefined;
}

export const NO_GROUPS: GroupMembership = { groupsOf: () => undefined, membersOf: () => undefined };

/** What a client asked to see. Every given selector and filter must hold (they combine with AND). */
export interface Subscription {
  readonly vehicles?: ReadonlySet<string>;
  readonly companies?: ReadonlySet<string>;
  /** Vehicles in any of these groups. */
  readonly groups?: ReadonlySet<string>;
  readonly bbox?: BBox;
  /** The map's zoom level (0–24), kept with the bbox for level-of-detail decisions. */
  readonly zoom?: number;
  /** Vehicles in any of these classes. */
  readonly status?: ReadonlySet<MotionStatus>;
  /** Only vehicles with an active alert (view.alerts not empty). */
  readonly alerts?: boolean;
  /** Vehicles of any of these types (reference data; a vehicle without a type matches none). */
  readonly types?: ReadonlySet<string>;
  readonly fields: PayloadFields;
  /** Level of detail at low zoom: a per-vehicle rate limit, or counts per map cell (actors/level-of-detail.ts). */
  readonly lod?: LevelOfDetail;
}

/** How long a subscription's lists may be (WS_MAX_SUB_IDS, WS_MAX_SUB_GROUPS). */
export interface SubscriptionLimits {
  /** Most entries in `vehicles`, and in `companies`. */
  readonly maxIds: number;
  readonly maxGroups: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = { maxIds: 10_000, maxGroups: 256 };

function stringList(v: unknown, what: string, max: number): Set<string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 64)) {
    throw new FleetlineError('BAD_SUBSCRIPTION', `${what} must be an array of ids (strings of 1-64 characters)`);
  }
  if (v.length > max) throw new FleetlineError('SUBSCRIPTION_TOO_LARGE', `${what} lists ${v.length} entries: at most ${max}`);
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

const MAX_TYPES = 64;

function parseFilter(v: unknown): { status?: Set<MotionStatus>; alerts?: boolean; types?: Set<string> } {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new FleetlineError('BAD_SUBSCRIPTION', 'filter must be a map {status?, alerts?, type?}');
  const f = v as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (key !== 'status' && key !== 'alerts' && key !== 'type') throw new FleetlineError('BAD_SUBSCRIPTION', `unknown filter ${JSON.stringify(key).slice(0, 40)}: use status, alerts or type`);
  }
  const out: { status?: Set<MotionStatus>; alerts?: boolean; types?: Set<string> } = {};
  if (f.type !== undefined && f.type !== null) {
    if (!Array.isArray(f.type) || f.type.length === 0 || f.type.length > MAX_TYPES || !f.type.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 32)) {
      throw new FleetlineError('BAD_SUBSCRIPTION', `filter.type must be a non-empty array of at most ${MAX_TYPES} vehicle types (strings of 1-32 characters)`);
    }
    out.types = new Set(f.type as string[]);
  }
  if (f.status !== undefined && f.status !== null) {
    if (!Array.isArray(f.status) || f.status.length === 0 || !f.status.every((x) => (MOTION_STATUSES as readonly unknown[]).includes(x))) {
      throw new FleetlineError('BAD_SUBSCRIPTION', `filter.status must be a non-empty array of ${MOTION_STATUSES.join(', ')}`);
    }
    out.status = new Set(f.status as MotionStatus[]);
  }
  if (f.alerts !== undefined && f.alerts !== null) {
    if (typeof f.alerts !== 'boolean') throw new FleetlineError('BAD_SUBSCRIPTION', 'filter.alerts must be a boolean');
    if (f.alerts) out.alerts = true;
  }
  return out;
}

/** Parses the fields of a `sub` frame. Throws FleetlineError BAD_SUBSCRIPTION (or SUBSCRIPTION_TOO_LARGE). */
export function parseSubscription(frame: Record<string, unknown>, limits: SubscriptionLimits = DEFAULT_SUBSCRIPTION_LIMITS): Subscription {
  const vehicles = stringList(frame.vehicles, 'vehicles', limits.maxIds);
  const companies = stringList(frame.companies, 'companies', limits.maxIds);
  const groups = stringList(frame.groups, 'groups', limits.maxGroups);
  const bbox = frame.bbox === undefined || frame.bbox === null ? undefined : parseBBox(frame.bbox);
  let zoom: number | undefined;
  if (frame.zoom !== undefined && frame.zoom !== null) {
    if (typeof frame.zoom !== 'number' || !Number.isFinite(frame.zoom) || frame.zoom < 0 || frame.zoom > 24) {
      throw new FleetlineError('BAD_SUBSCRIPTION', 'zoom must be a number in [0, 24]');
    }
    zoom = frame.zoom;
  }
  const fields = frame.fields ?? 'full';
  if (fields !== 'min' && fields !== 'full') throw new FleetlineError('BAD_SUBSCRIPTION', 'fields must be "min" or "full"');
  const filter = parseFilter(frame.filter);
  const lod = parseLevelOfDetail(frame.lod, zoom);
  return {
    ...(vehicles ? { vehicles } : {}), ...(companies ? { companies } : {}), ...(groups ? { groups } : {}),
    ...(bbox ? { bbox } : {}), ...(zoom !== undefined ? { zoom } : {}), ...filter, fields,
    ...(lod !== undefined ? { lod } : {}),
  };
}

/** The class a vehicle is in: offline wins; otherwise moving, or stopped with the ignition on (idle) or not. */
export function motionStatus(v: VehicleView): MotionStatus {
  if (v.status === 'offline') return 'offline';
  if (v.moving) return 'moving';
  return v.ignition === true ? 'idle' : 'stopped';
}

function inAnyGroup(groups: ReadonlySet<string>, of: readonly string[] | undefined): boolean {
  if (of === undefined) return false;
  for (const g of of) if (groups.has(g)) return true;
  return false;
}

export function inScope(sub: Subscription, grant: Grant, v: VehicleView, membership: GroupMembership = NO_GROUPS): boolean {
  if (sub.vehicles && !sub.vehicles.has(v.id)) return false;
  if (!matches(v, grant, sub.companies, sub.bbox)) return false;
  if (sub.groups && !inAnyGroup(sub.groups, membership.groupsOf(v.id))) return false;
  if (sub.status && !sub.status.has(motionStatus(v))) return false;
  if (sub.types && (v.type === undefined || !sub.types.has(v.type))) return false;
  return !sub.alerts || (v.alerts !== undefined && v.alerts.length > 0);
}

/** The fields a `min` subscription receives (with `id`): enough to draw and colour a vehicle on a map. */
export const MIN_FIELDS = ['company', 'lat', 'lon', 'ts', 'speed', 'course', 'moving', 'ignition', 'status', 'alerts'] as const;

/** A full view, or its `min` projection. */
export function projectView(v: VehicleView, fields: PayloadFields): VehicleView | VehicleDelta {
  if (fields === 'full') return v;
  const out: VehicleDelta = { id: v.id };
  const o = out as Record<string, unknown>;
  const src = v as unknown as Record<string, unknown>;
  for (const k of MIN_FIELDS) if (src[k] !== undefined) o[k] = src[k];
  return out;
}

/** A delta's `min` projection; null when none of its fields is one a `min` subscription receives. */
export function projectDelta(d: VehicleDelta, fields: PayloadFields): VehicleDelta | null {
  if (fields === 'full') return d;
  let out: VehicleDelta | null = null;
  const src = d as Record<string, unknown>;
  for (const k of MIN_FIELDS) {
    if (src[k] === undefined) continue;
    out ??= { id: d.id };
    (out as Record<string, unknown>)[k] = src[k];
  }
  return out;
}
