import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ErrorCodes, FleetlineError, type ErrorCode } from '../actors/domain/errors.js';
import type { Grant, TokenVerifier } from '../actors/ports/client-connection.js';
import type { StateIndex } from '../actors/ports/state-index.js';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { bearerToken } from './auth.js';
import { parseQuery, tokenOnlyQuerySchema, vehicleIdParam, vehicleListQuerySchema, weightBodySchema } from './http-schemas.js';
import type { ClusterOps } from './cluster-ops.js';
import { createHistoryApi, type FleetRoster } from './history-api.js';
import type { HistoryReader } from '../actors/ports/history-reader.js';
import type { IntakeCredentials } from './intake-credentials.js';
import { OSMAND_MAX_BODY_BYTES, osmandRecord } from './osmand.js';
import { decodeOsmand } from './osmand-decoder.js';
import { projectRoot } from './project-files.js';
import type { TelemetryIntake } from './telemetry-intake.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../actors/ports/transport.js';
import type { VehicleView } from '../actors/domain/vehicle-state.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BODY_TOO_LARGE: 413, MALFORMED_BODY: 400, UNSUPPORTED_MEDIA_TYPE: 415, TOO_MANY_RECORDS: 413, BAD_QUERY: 400, BAD_PATH: 400,
  METHOD_NOT_ALLOWED: 405, URI_TOO_LONG: 414, NOT_FOUND: 404, UNAUTHORIZED: 401, BAD_TOKEN: 401, FORBIDDEN: 403, NOT_READY: 503, BUS_UNAVAILABLE: 503, INTERNAL: 500,
  UNKNOWN_DEVICE: 403, FORBIDDEN_DEVICE: 403, INACTIVE_COMPANY: 403, HISTORY_UNAVAILABLE: 501,
  INVALID_BODY: 400, REFERENCE_CONFLICT: 409, REFERENCE_UNAVAILABLE: 503,
};

function errorResponse(code: ErrorCode, message: string = ErrorCodes[code]): HttpResponse {
  return json(STATUS[code] ?? 400, { error: { code, message } });
}

export function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

interface HttpApiDeps {
  readonly intake: TelemetryIntake;
  readonly intakeCredentials: IntakeCredentials;
  readonly index: StateIndex;
  readonly verifier: TokenVerifier;
  readonly snapshotLimit: number;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  /** For /readyz: whether the node is ready, and the state of each component. */
  readonly readiness: () => { ready: boolean; components: Record<string, string> };
  /** Whether intake is open (checked on every POST, so no report is built for it). */
  readonly ready: () => boolean;
  /** Demo mode only: issues an admin token for the demo page. */
  readonly demoToken: (() => Promise<string>) | null;
  /** On Kafka: this node's cluster operations (admin routes); null on one node or before start. */
  readonly cluster?: () => ClusterOps | null;
  /** The current view of a device's vehicle: the last fix an OsmAnd report without one keeps. */
  readonly lastFix: (deviceId: string) => VehicleView | undefined;
  /** The reference-data admin routes (/v1/admin/companies, …; engine/reference-admin.ts). */
  readonly reference?: (path: string) => Route | undefined;
  /** Server-Sent Events: /v1/sse and /v1/sse/:session/sub (engine/sse-endpoint.ts). */
  readonly sse?: (path: string) => Route | undefined;
  /** Track, events and reports: null without PostgreSQL (they answer 501 HISTORY_UNAVAILABLE). */
  readonly history: HistoryReader | null;
  readonly roster: FleetRoster;
  /** Observes each answered history request (fleetline_history_request_seconds{route}). */
  readonly observeHistory?: (route: string, seconds: number) => void;
}

type OsmandDeps = Pick<HttpApiDeps, 'intake' | 'intakeCredentials' | 'lastFix' | 'ready'>;

/**
 * One OsmAnd report (Traccar Client, OsmAnd, any script speaking the protocol), decoded as
 * Traccar decodes it. Answers 200 with an empty body when the position is taken, as Traccar.
 */
function osmandReport(deps: OsmandDeps): Handler {
  return async (req) => {
    if (!deps.ready()) throw new FleetlineError('NOT_READY');
    if (req.body.length > OSMAND_MAX_BODY_BYTES) throw new FleetlineError('BODY_TOO_LARGE', `an OsmAnd report is at most ${OSMAND_MAX_BODY_BYTES} bytes`);
    const position = decodeOsmand({ query: req.query, body: req.body, contentType: req.header('content-type') });
    const mayMove = deps.intakeCredentials.registeredDevices();
    let last: VehicleView | undefined;
    if (position.outdated) {
      const refused = mayMove(position.uniqueId);
      if (refused !== null) {
        deps.intake.refused(refused, 'osmand');
        return errorResponse(refused);
      }
      last = deps.lastFix(position.uniqueId);
    }
    const record = osmandRecord(position, Date.now(), last);
    if (record === null) {
      deps.intake.refused('NO_POSITION', 'osmand');
      return { status: 200, body: '' };
    }
    const result = await deps.intake.ingest([record], 'osmand', mayMove);
    if (result.rejected.length > 0) return errorResponse(result.rejected[0].reason);
    return { status: 200, body: '' };
  };
}

/** OsmAnd's own port (OSMAND_PORT, Traccar's 5055): every path and method is a report, as in Traccar. */
export function createOsmandApi(deps: OsmandDeps): HttpHandler {
  const report = osmandReport(deps);
  return async (req) => {
    try {
      return await report(req);
    } catch (e) {
      if (e instanceof FleetlineError) return errorResponse(e.code, e.message);
      throw e;
    }
  };
}

interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Every servable file under `dir` (subfolders too), as URL path → file, under `prefix`. */
function addTree(files: Map<string, StaticFile>, dir: string, prefix: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      addTree(files, path, `${prefix}${entry.name}/`);
      continue;
    }
    const type = STATIC_TYPES[extname(entry.name)];
    if (type !== undefined) files.set(`${prefix}${entry.name}`, { type, body: readFileSync(path) });
  }
}

/**
 * The demo page (every file of engine/public, read once at start), the client SDK it runs on
 * (packages/client/dist, built by `npm run build`) under /sdk/, and the SDK's MessagePack
 * decoder as ES modules under /vendor/msgpack/ (the page's import map names it).
 */
function loadStatic(): Map<string, StaticFile> {
  const root = projectRoot();
  const files = new Map<string, StaticFile>();
  const trees: [string, string][] = [
    [join(root, 'engine/public'), '/'],
    [join(root, 'packages/client/dist'), '/sdk/'],
    [join(root, 'node_modules/@msgpack/msgpack/dist.esm'), '/vendor/msgpack/'],
  ];
  for (const [dir, prefix] of trees) {
    try {
      addTree(files, dir, prefix);
    } catch {
      // A missing tree only disables the demo page (index.html says what to build); the API keeps working.
    }
  }
  const index = files.get('/index.html');
  if (index) {
    files.delete('/index.html');
    files.set('/', index);
  }
  return files;
}

/** Routes every HTTP request of the engine. */
export function createHttpApi(deps: HttpApiDeps): (req: HttpRequest) => Promise<HttpResponse> {
  const statics = loadStatic();

  const grantOf = async (req: HttpRequest): Promise<Grant> => {
    const token = bearerToken(req.header('authorization'), req.query);
    if (token === undefined) throw new FleetlineError('UNAUTHORIZED');
    return deps.verifier.verify(token);
  };

  const reply = (req: HttpRequest, status: number, body: unknown): HttpResponse => {
    if ((req.header('accept') ?? '').includes('application/msgpack')) {
      return { status, headers: { 'content-type': 'application/msgpack' }, body: encodeMsgpack(body) };
    }
    return json(status, body);
  };

  const listQuery = vehicleListQuerySchema(deps.snapshotLimit);

  const listVehicles = async (req: HttpRequest): Promise<HttpResponse> => {
    const grant = await grantOf(req);
    const q = parseQuery(listQuery, req.query);
    const vehicles = deps.index.query({ grant, bbox: q.bbox, limit: q.limit, companies: q.company, ids: q.ids });
    return reply(req, 200, { vehicles, count: vehicles.length });
  };

  const getVehicle = async (req: HttpRequest, segment: string): Promise<HttpResponse> => {
    const grant = await grantOf(req);
    const id = vehicleIdParam(segment);
    parseQuery(tokenOnlyQuerySchema, req.query);
    const v = deps.index.query({ grant, ids: [id], limit: 1 })[0];
    // Another tenant's vehicle answers 404 like a missing one: its existence is not disclosed.
    if (!v) throw new FleetlineError('NOT_FOUND', `no vehicle ${id}`);
    return reply(req, 200, v);
  };

  const postTelemetry = async (req: HttpRequest): Promise<HttpResponse> => {
    const mayMove = await deps.intakeCredentials.ofRequest(req.header('authorization'), req.query);
    const records = deps.intake.decodeBody(req.body, req.header('content-type'));
    const result = await deps.intake.ingest(records, 'http', mayMove);
    return json(202, result);
  };

  const postOsmand = osmandReport(deps);

  /** Cluster operations: an admin token, and a node that is one of a cluster (Kafka). */
  const admin = (handler: (ops: ClusterOps, req: HttpRequest) => Promise<HttpResponse>): Handler => async (req) => {
    if ((await grantOf(req)) !== null) throw new FleetlineError('FORBIDDEN', 'cluster operations need an admin token');
    parseQuery(tokenOnlyQuerySchema, req.query);
    const ops = deps.cluster?.() ?? null;
    if (ops === null) throw new FleetlineError('NOT_FOUND', 'this node is not part of a cluster (no KAFKA_BROKERS), or it is still starting');
    return handler(ops, req);
  };
  const setWeight = admin(async (ops, req) => {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      throw new FleetlineError('MALFORMED_BODY', (e as Error).message);
    }
    const parsed = weightBodySchema.safeParse(body);
    if (!parsed.success) throw new FleetlineError('MALFORMED_BODY', `expected {"weight": number in [0, 1000]}: ${parsed.error.issues[0].message}`);
    await ops.setWeight(parsed.data.weight);
    return json(200, { nodeId: ops.nodeId, weight: parsed.data.weight });
  });

  /** Intake answers 503 NOT_READY while the node starts or stops. */
  const intake = (handler: Handler): Handler => (req) => {
    if (!deps.ready()) throw new FleetlineError('NOT_READY');
    return handler(req);
  };

  // Every route and the methods it takes, in one table.
  const routes = new Map<string, Route>([
    ['/v1/telemetry', { POST: intake(postTelemetry) }],
    // OsmAnd clients report with GET too: it is intake like the POST, so a HEAD must not run it.
    ['/v1/osmand', { GET: postOsmand, POST: postOsmand, noHead: true }],
    ['/v1/vehicles', { GET: listVehicles }],
    ['/v1/admin/cluster', { GET: admin(async (ops) => json(200, await ops.shardMap())) }],
    ['/v1/admin/weight', { POST: setWeight }],
    ['/v1/admin/rebalance', { POST: admin(async (ops) => {
      void ops.rebalance();
      return json(202, { nodeId: ops.nodeId, rebalancing: true });
    }) }],
    ['/v1/admin/drain', { POST: admin(async (ops) => {
      void ops.drain();
      return json(202, { nodeId: ops.nodeId, draining: true });
    }) }],
    ['/healthz', { GET: () => json(200, { status: 'ok' }) }],
    ['/readyz', { GET: () => {
      const r = deps.readiness();
      return json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', components: r.components });
    } }],
    ['/metrics', { GET: async () => {
      const m = await deps.metrics();
      return { status: 200, headers: { 'content-type': m.contentType }, body: m.body };
    } }],
  ]);
  const history = createHistoryApi({ reader: deps.history, roster: deps.roster, grantOf, observe: deps.observeHistory });
  for (const [path, handler] of history.routes) routes.set(path, { GET: handler });
  const demoToken = deps.demoToken;
  if (demoToken) routes.set('/v1/demo/token', { GET: async () => json(200, { token: await demoToken() }) });
  for (const [path, file] of statics) {
    routes.set(path, { GET: () => ({ status: 200, headers: { 'content-type': file.type, 'cache-control': 'no-cache' }, body: file.body }) });
  }
  const vehicle: Route = { GET: (req) => getVehicle(req, req.path.slice('/v1/vehicles/'.length)) };
  const vehicleRoute = (path: string): Route => {
    const handler = history.vehicleRoute(path);
    return handler ? { GET: handler } : vehicle;
  };
  const locate: Route = { GET: admin(async (ops, req) => json(200, await ops.locate(vehicleIdParam(req.path.slice('/v1/admin/locate/'.length))))) };
  const routeOf = (path: string): Route | undefined => routes.get(path)
    ?? (path.startsWith('/v1/vehicles/') ? vehicleRoute(path) : path.startsWith('/v1/admin/locate/') ? locate : deps.reference?.(path) ?? deps.sse?.(path));

  return async (req) => {
    try {
      const { method, path } = req;
      const route = routeOf(path);
      if (!route) return errorResponse('NOT_FOUND', `no route ${method} ${path}`);
      const handler = handlerFor(route, method);
      if (!handler) {
        const refused = errorResponse('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
        return { ...refused, headers: { ...refused.headers, allow: allowedMethods(route).join(', ') } };
      }
      return await handler(req);
    } catch (e) {
      if (e instanceof FleetlineError) return errorResponse(e.code, e.message);
      throw e;
    }
  };
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;

export interface Route {
  readonly GET?: Handler;
  readonly POST?: Handler;
  readonly PUT?: Handler;
  readonly DELETE?: Handler;
  /** A GET with side effects: HEAD is refused instead of served as GET. */
  readonly noHead?: true;
}

/** HEAD is a GET without a body (RFC 9110 §9.3.2); the transports leave the body out. */
function handlerFor(route: Route, method: string): Handler | undefined {
  if (method === 'GET' || method === 'POST' || method === 'PUT' || method === 'DELETE') return route[method];
  if (method === 'HEAD' && !route.noHead) return route.GET;
  return undefined;
}

function allowedMethods(route: Route): string[] {
  const methods: string[] = [];
  if (route.GET) methods.push(route.noHead ? 'GET' : 'GET, HEAD');
  if (route.POST) methods.push('POST');
  if (route.PUT) methods.push('PUT');
  if (route.DELETE) methods.push('DELETE');
  return methods;
}
