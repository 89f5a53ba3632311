/**
 * Every error code Fleetline answers with, in one table: HTTP bodies, WebSocket `err`
 * frames, rejection reasons and logs all use these strings. Codes are stable; docs/errors.md
 * is checked against this table by a test.
 */
export const ErrorCodes = {
  // Telemetry record validation (also the `reason` label of fleetline_points_rejected_total).
  BAD_DEVICE_ID: 'deviceId must be a string of 1-64 characters from [A-Za-z0-9_.:-]',
  BAD_TIMESTAMP: 'ts must be a millisecond epoch number or an ISO-8601 date-time with a zone (Z or ±hh:mm), a real calendar date, within the accepted window',
  BAD_LATITUDE: 'lat must be a number in [-90, 90]',
  BAD_LONGITUDE: 'lon must be a number in [-180, 180]',
  BAD_SPEED: 'speed must be a finite number >= 0 (km/h)',
  BAD_COURSE: 'course must be a number in [0, 360)',
  BAD_ALTITUDE: 'alt must be a finite number (m)',
  BAD_IGNITION: 'ignition must be a boolean',
  BAD_FUEL: 'fuel must be a finite number >= 0',
  BAD_ODOMETER: 'odometer must be a finite number >= 0 (km)',
  BAD_ATTRS: 'attrs must be a flat map of at most 32 string/number/boolean values',
  NOT_A_RECORD: 'each record must be a map/object',
  // The vehicle actor drops these after the intake answered 202: they are counted in
  // fleetline_points_rejected_total{source="actor"}, never listed in a request's rejected[].
  DUPLICATE: 'a point with this timestamp was already applied for the device (dropped by the vehicle actor, counted, not in rejected[])',
  OUT_OF_ORDER: 'no longer produced: an older point is late and is stored and repairs instead (kept for dashboards of earlier versions)',
  // Filters of the vehicle actor (each one configurable: docs/configuration.md, vehicle domain settings).
  INVALID_FIX: 'the device marks the point invalid (attribute valid=false): no GPS fix (filterInvalid)',
  ZERO_COORDINATES: 'the point lies at exactly 0,0 (filterZero)',
  FUTURE_TIMESTAMP: 'the point is stamped further in the future than filterFutureS',
  PAST_TIMESTAMP: 'the point is older than filterPastS',
  LOW_ACCURACY: 'hdop above filterMaxHdop, satellites below filterMinSatellites or accuracy above filterMaxAccuracyM',
  IMPOSSIBLE_JUMP: 'the implied speed from the previous point exceeds filterMaxSpeedKmh',
  MIN_PERIOD: 'the point follows the previous one sooner than filterMinPeriodS (and its ignition did not change)',
  MIN_DISTANCE: 'the point is closer to the previous one than filterMinDistanceM (and its ignition did not change)',
  INACTIVE_COMPANY: "the device's company is deactivated",
  UNKNOWN_DEVICE: 'the device is not bound to a vehicle and unbound devices are not accepted',
  FORBIDDEN_DEVICE: "the device is not bound to a vehicle of the credential's companies",
  UNBOUND_DEVICE_LIMIT: 'the node already holds UNBOUND_DEVICE_LIMIT unbound devices',
  NO_POSITION: 'an OsmAnd report without a fix (cell or Wi-Fi only) for a device with no known position yet: answered 200 as Traccar does, but there is no position to keep (counted, not applied)',
  UNDECODABLE: 'the record could not be decoded as JSON or MessagePack',
  ACTOR_UNAVAILABLE: 'the engine could not hand the record to its vehicle actor; it was skipped (logged)',
  RETIRED_VEHICLE: "a point forwarded to its vehicle's partition arrived after the vehicle was retired (deleted, company deactivated, device re-bound)",
  // HTTP
  BODY_TOO_LARGE: 'the request body exceeds the configured limit',
  MALFORMED_BODY: 'the request body is not valid JSON / MessagePack',
  UNSUPPORTED_MEDIA_TYPE: 'Content-Type must be application/json or application/msgpack',
  TOO_MANY_RECORDS: 'the batch holds more records than the configured limit',
  BAD_QUERY: 'a query parameter is malformed, unknown or given twice',
  BAD_PATH: 'the request path is malformed (e.g. a broken percent-escape)',
  METHOD_NOT_ALLOWED: 'the route does not take this method; the Allow header lists the ones it takes',
  URI_TOO_LONG: 'the request target (path and query) exceeds 32 KiB',
  NOT_FOUND: 'no such resource',
  UNAUTHORIZED: 'a valid token is required',
  FORBIDDEN: 'the token does not grant access to this resource',
  NOT_READY: 'the engine is not ready to accept input',
  BUS_UNAVAILABLE: 'the log did not acknowledge the records: none of them was accepted; retry later',
  INTERNAL: 'internal error',
  // Reference data through the admin API (docs/http-api.md, Reference data)
  INVALID_BODY: 'the request body is well-formed but does not match the route\'s schema (the message names the field)',
  REFERENCE_CONFLICT: 'the change would break reference integrity: it names a company or vehicle that does not exist, a driver uniqueId already taken, or deletes an entity still in use',
  REFERENCE_UNAVAILABLE: 'the source of truth of reference data (PostgreSQL, or the fleet.reference topic) did not take the change: nothing was changed; retry later',
  HISTORY_UNAVAILABLE: 'this deployment keeps no history (embedded mode, no DATABASE_URL): track, events and reports need PostgreSQL',
  // WebSocket protocol
  BAD_FRAME: 'the frame is not a MessagePack map with a known `t`',
  FRAME_TOO_LARGE: 'a client frame exceeds WS_MAX_FRAME_BYTES (64 KiB by default): the connection is closed (1009)',
  AUTH_REQUIRED: 'the first frame must be {t:"auth", token} when no ?token= was given',
  BAD_TOKEN: 'the token is invalid or expired',
  TOKEN_EXPIRED: 'the token of the stream expired: send a fresh one in an auth frame before it does',
  BAD_SUBSCRIPTION: 'the subscription is malformed',
  RATE_LIMITED: 'more client frames in one second than WS_MAX_FRAMES_PER_SEC: the connection is closed (4429)',
  SUBSCRIPTION_RATE_LIMITED: 'more `sub` frames in one second than WS_MAX_SUBS_PER_SEC: this change is refused, the connection and its current subscription stay',
  SUBSCRIPTION_TOO_LARGE: 'a subscription lists more vehicles or companies than WS_MAX_SUB_IDS, or more groups than WS_MAX_SUB_GROUPS: refused, the connection stays',
  TOO_MANY_CONNECTIONS: 'the token already holds WS_MAX_CONNECTIONS_PER_TOKEN open streams on this node: refused at authentication (4430)',
  HEARTBEAT_TIMEOUT: 'the client answered no ping (no pong, no frame) for WS_PONG_TIMEOUT_S: the connection is closed (1001)',
  SLOW_CLIENT: 'the client did not read its frames: too much unsent data queued',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class FleetlineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string = ErrorCodes[code]) {
    super(message);
    this.name = 'FleetlineError';
    this.code = code;
  }
}

/** WebSocket close codes (4000-4999 is the application range of RFC 6455). */
export const CloseCodes = {
  NORMAL: 1000,
  /** The client answered none of the server's pings for WS_PONG_TIMEOUT_S (RFC 6455 "going away"). */
  IDLE_TIMEOUT: 1001,
  /** A client frame exceeded WS_MAX_FRAME_BYTES (RFC 6455 "message too big"). */
  MESSAGE_TOO_BIG: 1009,
  AUTH_TIMEOUT: 4001,
  BAD_TOKEN: 4003,
  /** The stream's token expired and no fresh one arrived in an `auth` frame. */
  TOKEN_EXPIRED: 4401,
  RATE_LIMITED: 4429,
  /** The token already holds WS_MAX_CONNECTIONS_PER_TOKEN streams on this node. */
  TOO_MANY_CONNECTIONS: 4430,
  /** The client read so slowly that its unsent frames passed WS_MAX_QUEUED_BYTES. */
  SLOW_CLIENT: 4408,
  SHUTTING_DOWN: 4503,
  /** IANA "Try Again Later": the node is still restoring its actors. */
  NOT_READY: 1013,
} as const;
