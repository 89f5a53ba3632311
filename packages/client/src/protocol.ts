/*
 * The wire shapes of /v1/stream (docs/protocol.md and the resume contract). Every frame is one
 * MessagePack map with a string field `t`. The codes below are the server's (actors/domain/errors.ts);
 * a test keeps the two lists equal.
 */

/** Close codes the server sends (docs/protocol.md, "Close codes"). */
export const CloseCode = {
  NORMAL: 1000,
  /** No frame and no pong from the client for the server's idle timeout. */
  IDLE_TIMEOUT: 1001,
  /** Closed without a close frame: the network failed (never sent by a server). */
  ABNORMAL: 1006,
  MESSAGE_TOO_BIG: 1009,
  /** The node is still restoring its actors after a start: try again later. */
  NOT_READY: 1013,
  AUTH_TIMEOUT: 4001,
  BAD_TOKEN: 4003,
  TOKEN_EXPIRED: 4401,
  SLOW_CLIENT: 4408,
  RATE_LIMITED: 4429,
  /** The token already holds the node's maximum of open streams. */
  TOO_MANY_CONNECTIONS: 4430,
  SHUTTING_DOWN: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The `code` of an `err` frame (docs/errors.md, "WebSocket protocol"). */
export const StreamErrorCode = {
  BAD_FRAME: 'BAD_FRAME',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  BAD_TOKEN: 'BAD_TOKEN',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  BAD_SUBSCRIPTION: 'BAD_SUBSCRIPTION',
  RATE_LIMITED: 'RATE_LIMITED',
  /** Too many `sub` frames in one second: that change was refused, the previous subscription stays. */
  SUBSCRIPTION_RATE_LIMITED: 'SUBSCRIPTION_RATE_LIMITED',
  /** Too many ids or groups in one subscription: refused, the previous one stays. */
  SUBSCRIPTION_TOO_LARGE: 'SUBSCRIPTION_TOO_LARGE',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  HEARTBEAT_TIMEOUT: 'HEARTBEAT_TIMEOUT',
  SLOW_CLIENT: 'SLOW_CLIENT',
  FORBIDDEN: 'FORBIDDEN',
} as const;
export type StreamErrorCode = (typeof StreamErrorCode)[keyof typeof StreamErrorCode];

/** `[west, south, east, north]` in degrees; west > east crosses the antimeridian. */
export type BBox = readonly [number, number, number, number];

export type MotionStatus = 'moving' | 'stopped' | 'idle' | 'offline';

/** What the client asks to see; every given selector and filter must hold. None: everything the token grants. */
export interface Subscription {
  readonly vehicles?: readonly string[];
  readonly companies?: readonly string[];
  readonly groups?: readonly string[];
  readonly bbox?: BBox;
  /** The map's zoom level (0–24), kept with the bbox. */
  readonly zoom?: number;
  readonly filter?: {
    readonly status?: readonly MotionStatus[];
    /** true: only vehicles with an active alert. */
    readonly alerts?: boolean;
    /** Vehicle types (reference data), on servers that have them. */
    readonly type?: readonly string[];
  };
  /** `min`: the compact set a map draws; `full` (the server's default): the whole view. */
  readonly fields?: 'min' | 'full';
}

/** A vehicle as the client holds it: the server's view, merged from snap, entries and deltas. */
export interface VehicleState {
  id: string;
  company: string | null;
  name?: string;
  plate?: string;
  /** What kind of vehicle (reference data), on servers that have it. */
  type?: string;
  lat: number;
  lon: number;
  /** ms since epoch of the last accepted point. */
  ts: number;
  speed: number;
  course?: number;
  alt?: number;
  ignition?: boolean;
  fuel?: number;
  odometer?: number;
  moving: boolean;
  attrs?: Record<string, string | number | boolean>;
  status?: 'online' | 'offline' | 'unknown';
  geofences?: string[];
  alerts?: string[];
}

/** A delta entry: the id and the fields that changed (or, for a vehicle entering the scope, its whole view). */
export type VehicleDelta = { id: string } & Partial<Omit<VehicleState, 'id'>>;

export interface VehicleEvent {
  /** Deterministic (`vehicleId:type:ts`…): the SDK deduplicates by it across reconnects. */
  readonly id: string;
  readonly vehicleId: string;
  readonly company: string | null;
  readonly type: string;
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

export type ServerFrame =
  | { t: 'ready'; companies: string[] | null; expiresAt: number; session?: string; epoch?: number }
  | { t: 'snap'; seq: number; vehicles: VehicleState[]; partial?: boolean }
  | { t: 'd'; seq: number; u: VehicleDelta[] }
  | { t: 'gone'; seq: number; ids: string[] }
  | { t: 'ev'; seq: number; e: VehicleEvent[] }
  | { t: 'unsubbed'; seq: number }
  | { t: 'pong'; ts: number }
  | { t: 'err'; code: string; msg?: string }
  | { t: 'resumed'; session: string; epoch: number; seq?: number; full: boolean; reason?: ResumeFailure };

/** Why a resume could not continue the stream (the resume contract's `reason`). */
export type ResumeFailure = 'GAP_TOO_LARGE' | 'EPOCH_CHANGED' | 'UNKNOWN_SESSION';

export type ClientFrame =
  | { t: 'auth'; token: string }
  | ({ t: 'sub' } & Subscription)
  | { t: 'unsub' }
  | { t: 'ping' }
  | { t: 'resume'; session: string; seq: number; epoch?: number };

/** The frame types that carry `seq` (+1 per frame within a stream epoch). */
export const SEQUENCED_FRAMES: ReadonlySet<string> = new Set(['snap', 'd', 'gone', 'ev', 'unsubbed']);
