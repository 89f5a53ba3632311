import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { FleetlineError } from '../actors/domain/errors.js';
import type { Grant, Session, TokenVerifier } from '../actors/ports/client-connection.js';

export interface JwtAuthOptions {
  /** Longest accepted lifetime: `exp` - `iat` (and `exp` - now) above it is refused. */
  readonly maxLifetimeS: number;
  readonly issuer?: string | null;
  readonly audience?: string | null;
  /** Public keys of RS256 tokens (engine/jwks.ts); absent, only HS256 tokens are accepted. */
  readonly jwks?: JWTVerifyGetKey | null;
}

/** The asymmetric algorithm verified with JWKS keys. `none` and anything else is refused. */
const JWKS_ALGORITHMS = ['RS256'];

const CLOCK_SKEW_S = 60;

/** What an intake credential may move: every device (admin) or the devices of these companies. */
export type IntakeGrant = { readonly role: 'admin' } | { readonly role: 'ingest'; readonly companies: ReadonlySet<string> };

/**
 * Tokens: JWTs that must carry `exp`, HS256 with JWT_SECRET and/or RS256 with the keys of a
 * JWKS; the header's `alg` picks the key, so an HS256 token is never checked against a
 * public key (the classic confusion) and an RS256 token never against the secret. Three
 * kinds, by claims, whatever the algorithm:
 * - map clients: `companies: string[]`, no role — read only;
 * - `role: "ingest"` with `companies` — intake only, for the devices of those companies;
 * - `role: "admin"` — reads everything and may move any device.
 * A token granting nothing, or with an unknown role, is refused rather than treated as an empty grant.
 */
export class JwtAuth implements TokenVerifier {
  /**
   * The HS256 secret; null: HS256 tokens are refused (an RS256-only deployment). A KeyObject,
   * not the raw bytes, which jose would import as a new key on every token (about 7 times slower).
   */
  private readonly key: KeyObject | null;
  private readonly algorithms: string[];
  private readonly getKey: JWTVerifyGetKey;

  constructor(secret: string | null, private readonly options: JwtAuthOptions = { maxLifetimeS: 86_400 }) {
    const key = secret === null ? null : createSecretKey(Buffer.from(secret, 'utf8'));
    const jwks = options.jwks ?? null;
    this.key = key;
    this.algorithms = [...(key ? ['HS256'] : []), ...(jwks ? JWKS_ALGORITHMS : [])];
    if (this.algorithms.length === 0) throw new Error('JwtAuth needs an HS256 secret, a JWKS, or both');
    // jose refuses an alg outside `algorithms` before it asks for a key.
    this.getKey = (header: JWTHeaderParameters, token) => (header.alg === 'HS256' ? key as KeyObject : (jwks as JWTVerifyGetKey)(header, token));
  }

  /** Verifies signature, `exp`, lifetime and (when configured) `iss`/`aud`; returns the claims. */
  private async claims(token: string): Promise<JWTPayload & { exp: number }> {
    if (token.length > 8192) throw new FleetlineError('BAD_TOKEN', 'token too long');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        requiredClaims: ['exp'],
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      }));
    } catch (e) {
      throw new FleetlineError('BAD_TOKEN', `invalid token: ${(e as Error).message}`);
    }
    const exp = payload.exp as number;
    const max = this.options.maxLifetimeS;
    const now = Math.floor(Date.now() / 1000);
    // exp - now gets a minute of slack for an issuer whose clock runs ahead; exp - iat none.
    if (exp - now > max + CLOCK_SKEW_S || (typeof payload.iat === 'number' && exp - payload.iat > max)) {
      throw new FleetlineError('BAD_TOKEN', `invalid token: it lives longer than the maximum of ${max} s (JWT_MAX_LIFETIME_S)`);
    }
    return payload as JWTPayload & { exp: number };
  }

  /** The read grant of a client token (HTTP reads, WebSocket streams). Ingest credentials cannot read. */
  async verify(token: string): Promise<Grant> {
    return (await this.verifySession(token)).grant;
  }

  async verifySession(token: string): Promise<Session> {
    const payload = await this.claims(token);
    const expiresAt = payload.exp * 1000;
    const tokenId = identityOf(payload, token);
    if (payload.role === 'admin') return { grant: null, expiresAt, tokenId };
    if (payload.role === 'ingest') throw new FleetlineError('FORBIDDEN', 'an ingest credential may only post telemetry');
    if (payload.role !== undefined) throw new FleetlineError('BAD_TOKEN', 'unknown role');
    return { grant: companiesOf(payload), expiresAt, tokenId };
  }

  /** The intake grant of a credential on POST /v1/telemetry. Map-client tokens are read only (FORBIDDEN). */
  async verifyIntake(token: string): Promise<IntakeGrant> {
    const payload = await this.claims(token);
    if (payload.role === 'admin') return { role: 'admin' };
    if (payload.role === 'ingest') return { role: 'ingest', companies: companiesOf(payload) };
    if (payload.role !== undefined) throw new FleetlineError('BAD_TOKEN', 'unknown role');
    companiesOf(payload);
    throw new FleetlineError('FORBIDDEN', 'a map-client token is read only: intake needs role "ingest" or "admin"');
  }

  /** Issues an HS256 token (demo mode, tests and the load-test harness); never longer than the maximum lifetime. */
  async sign(claims: { companies?: string[]; role?: 'admin' | 'ingest'; sub?: string; jti?: string }, expiresInS = 12 * 3600): Promise<string> {
    if (this.key === null) throw new Error('no JWT_SECRET: this node verifies RS256 tokens only and cannot issue any');
    const seconds = Math.min(expiresInS, this.options.maxLifetimeS);
    const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(`${seconds}s`);
    if (this.options.issuer) jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt.setAudience(this.options.audience);
    return jwt.sign(this.key);
  }
}

/**
 * Which token this is, for per-token limits: its `jti` when it has one, else its subject and
 * issue time, else a hash of the token itself (the issuer is part of the first two).
 */
function identityOf(payload: JWTPayload, token: string): string {
  const iss = payload.iss ?? '';
  if (typeof payload.jti === 'string' && payload.jti !== '') return `jti:${iss}:${payload.jti}`;
  if (typeof payload.sub === 'string' && typeof payload.iat === 'number') return `sub:${iss}:${payload.sub}:${payload.iat}`;
  return `sha256:${createHash('sha256').update(token).digest('base64url')}`;
}

function companiesOf(payload: JWTPayload): ReadonlySet<string> {
  const companies = payload.companies;
  if (Array.isArray(companies) && companies.length > 0 && companies.every((c) => typeof c === 'string')) {
    return new Set(companies as string[]);
  }
  throw new FleetlineError('BAD_TOKEN', 'the token grants neither companies nor the admin role');
}

/** The bearer token of an HTTP request: `Authorization: Bearer …` or `?token=`. */
export function bearerToken(authorization: string | undefined, query: URLSearchParams): string | undefined {
  if (authorization && /^Bearer\s+/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, '').trim();
  return query.get('token') ?? undefined;
}
