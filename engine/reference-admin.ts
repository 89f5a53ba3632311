import type { z } from 'zod';
import { FleetlineError } from '../actors/domain/errors.js';
import type { ReferenceChange, ReferenceKind } from '../actors/domain/reference-data.js';
import type { FleetDirectory, ReferenceValue } from '../actors/fleet-directory.js';
import type { TokenVerifier } from '../actors/ports/client-connection.js';
import type { ReferenceWriter } from '../actors/ports/reference-writer.js';
import type { HttpRequest, HttpResponse } from '../actors/ports/transport.js';
import { bearerToken } from './auth.js';
import { parseQuery, referenceBodySchemas, referenceIdParam, tokenOnlyQuerySchema } from './http-schemas.js';
import type { Handler, Route } from './http-api.js';

/** The admin API's collections and the reference kind each holds. */
const COLLECTIONS: Readonly<Record<string, ReferenceKind>> = {
  companies: 'company', vehicles: 'vehicle', devices: 'device', geofences: 'geofence', drivers: 'driver', groups: 'group',
};

/** How long a write waits to come back through this node's reference feed before answering 202. */
const APPLIED_WAIT_MS = 5000;

/**
 * The changes this node has applied, for a write that waits to see its own change come back
 * (through PostgreSQL's LISTEN or the fleet.reference topic, like every other node's copy).
 */
export class AppliedReferenceChanges {
  private readonly waiters = new Map<string, (() => void)[]>();

  /** Resolves true once a change of this entity is applied after the call, false after timeoutMs. */
  expect(kind: ReferenceKind, id: string, timeoutMs: number): { readonly done: Promise<boolean>; cancel(): void } {
    const key = `${kind}:${id}`;
    let cancel = () => {};
    const done = new Promise<boolean>((resolve) => {
      const list = this.waiters.get(key) ?? [];
      this.waiters.set(key, list);
      const timer = setTimeout(() => finish(false), timeoutMs);
      const waiter = () => finish(true);
      const finish = (applied: boolean) => {
        clearTimeout(timer);
        const left = (this.waiters.get(key) ?? []).filter((w) => w !== waiter);
        if (left.length === 0) this.waiters.delete(key);
        else this.waiters.set(key, left);
        resolve(applied);
      };
      list.push(waiter);
      cancel = () => finish(false);
    });
    return { done, cancel };
  }

  applied(change: ReferenceChange): void {
    const list = this.waiters.get(`${change.kind}:${change.id}`);
    if (list !== undefined) for (const w of [...list]) w();
  }
}

export interface ReferenceAdminDeps {
  readonly directory: FleetDirectory;
  readonly writer: ReferenceWriter;
  readonly applied: AppliedReferenceChanges;
  readonly verifier: TokenVerifier;
}

/**
 * /v1/admin/<collection> (GET: list) and /v1/admin/<collection>/<id> (GET, PUT: create or
 * replace, DELETE), admin tokens only. Reads answer from this node's directory; writes go to
 * the deployment's source of truth (ReferenceWriter) and are answered once this node applied
 * them (200/201/204), or 202 when that took longer than APPLIED_WAIT_MS.
 */
export function referenceRoutes(deps: ReferenceAdminDeps): (path: string) => Route | undefined {
  const adminOnly = (handler: (req: HttpRequest) => Promise<HttpResponse>): Handler => async (req) => {
    const token = bearerToken(req.header('authorization'), req.query);
    if (token === undefined) throw new FleetlineError('UNAUTHORIZED');
    if ((await deps.verifier.verify(token)) !== null) throw new FleetlineError('FORBIDDEN', 'reference data needs an admin token');
    parseQuery(tokenOnlyQuerySchema, req.query);
    return handler(req);
  };
  const routes = new Map<string, Route>();
  return (path) => {
    const m = /^\/v1\/admin\/([a-z]+)(?:\/([^/]+))?$/.exec(path);
    const kind = m ? COLLECTIONS[m[1]] : undefined;
    if (!m || kind === undefined) return undefined;
    const segment = m[2];
    if (segment === undefined) {
      let list = routes.get(kind);
      if (list === undefined) {
        list = { GET: adminOnly(async () => json(200, { [m[1]]: deps.directory.list(kind) })) };
        routes.set(kind, list);
      }
      return list;
    }
    return {
      GET: adminOnly(async () => {
        const id = referenceIdParam(segment, kind);
        const value = deps.directory.get(kind, id);
        if (value === undefined) throw new FleetlineError('NOT_FOUND', `no ${kind} ${id}`);
        return json(200, value);
      }),
      PUT: adminOnly(async (req) => put(deps, kind, referenceIdParam(segment, kind), req)),
      DELETE: adminOnly(async () => remove(deps, kind, referenceIdParam(segment, kind))),
    };
  };
}

async function put(deps: ReferenceAdminDeps, kind: ReferenceKind, id: string, req: HttpRequest): Promise<HttpResponse> {
  const body = parseBody(referenceBodySchemas[kind], req);
  const value = entity(kind, id, body);
  checkIntegrity(deps.directory, { kind, id, value } as ReferenceChange);
  const existed = deps.directory.get(kind, id) !== undefined;
  const applied = await write(deps, { kind, id, value } as ReferenceChange);
  return json(applied ? (existed ? 200 : 201) : 202, value);
}

async function remove(deps: ReferenceAdminDeps, kind: ReferenceKind, id: string): Promise<HttpResponse> {
  if (deps.directory.get(kind, id) === undefined) throw new FleetlineError('NOT_FOUND', `no ${kind} ${id}`);
  const change = { kind, id, value: null } as ReferenceChange;
  checkIntegrity(deps.directory, change);
  const applied = await write(deps, change);
  return applied ? { status: 204, body: '' } : json(202, { deleted: `${kind}:${id}` });
}

/** Writes a change and waits for this node to apply it; false when that took too long. */
async function write(deps: ReferenceAdminDeps, change: ReferenceChange): Promise<boolean> {
  const seen = deps.applied.expect(change.kind, change.id, APPLIED_WAIT_MS);
  try {
    await deps.writer.write(change);
  } catch (e) {
    seen.cancel();
    throw e;
  }
  return seen.done;
}

function entity(kind: ReferenceKind, id: string, body: Record<string, unknown>): ReferenceValue {
  const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  return (kind === 'device' ? { deviceId: id, ...clean } : { id, ...clean }) as unknown as ReferenceValue;
}

function parseBody<S extends z.ZodType>(schema: S, req: HttpRequest): z.output<S> {
  const type = req.header('content-type');
  if (type !== undefined && !type.startsWith('application/json')) throw new FleetlineError('UNSUPPORTED_MEDIA_TYPE', 'reference data bodies are application/json');
  let raw: unknown;
  try {
    raw = JSON.parse(req.body.toString('utf8'));
  } catch (e) {
    throw new FleetlineError('MALFORMED_BODY', (e as Error).message);
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new FleetlineError('INVALID_BODY', issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : `${where}: ${issue.message}`);
}

/**
 * Refuses a change that would leave reference data pointing at nothing, as PostgreSQL's foreign
 * keys would (and do, when it is the source of truth: this check answers the same in both).
 */
function checkIntegrity(dir: FleetDirectory, change: ReferenceChange): void {
  const conflict = (message: string) => new FleetlineError('REFERENCE_CONFLICT', message);
  const needCompany = (companyId: string) => {
    if (dir.get('company', companyId) === undefined) throw conflict(`no company ${companyId}`);
  };
  if (change.value === null) {
    if (change.kind === 'company') {
      const users = (['vehicle', 'geofence', 'driver', 'group'] as const).filter((k) => dir.list(k).some((v) => (v as { companyId?: string }).companyId === change.id));
      if (users.length > 0) throw conflict(`company ${change.id} still has ${users.map((k) => `${k}s`).join(', ')}: delete or move them first (or deactivate it: PUT with "active": false)`);
    }
    if (change.kind === 'vehicle' && dir.devicesOf(change.id).length > 0) throw conflict(`vehicle ${change.id} still has bound devices: delete their bindings first`);
    return;
  }
  switch (change.kind) {
    case 'company':
      return;
    case 'device':
      if (dir.get('vehicle', change.value.vehicleId) === undefined) throw conflict(`no vehicle ${change.value.vehicleId}`);
      return;
    case 'driver': {
      needCompany(change.value.companyId);
      const uniqueId = change.value.uniqueId;
      if (uniqueId !== undefined && dir.list('driver').some((d) => (d as { uniqueId?: string; id: string }).uniqueId === uniqueId && (d as { id: string }).id !== change.id)) {
        throw conflict(`uniqueId ${uniqueId} belongs to another driver`);
      }
      return;
    }
    case 'group': {
      needCompany(change.value.companyId);
      for (const vehicleId of change.value.vehicleIds) {
        const v = dir.get('vehicle', vehicleId) as { companyId: string } | undefined;
        if (v === undefined || v.companyId !== change.value.companyId) throw conflict(`no vehicle ${vehicleId} in company ${change.value.companyId}`);
      }
      return;
    }
    default:
      needCompany(change.value.companyId);
  }
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
