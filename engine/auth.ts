import { SignJWT, jwtVerify } from 'jose';
import { FleetlineError } from '../actors/domain/errors.js';
import type { Grant, TokenVerifier } from '../actors/ports/client-connection.js';

/**
 * Client tokens: HS256 JWTs whose claims grant `companies: string[]` or `role: "admin"`.
 * A token granting nothing is refused rather than treated as an empty grant.
 */
export class JwtAuth implements TokenVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<Grant> {
    if (token.length > 8192) throw new FleetlineError('BAD_TOKEN', 'token too long');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (e) {
      throw new FleetlineError('BAD_TOKEN', `invalid token: ${(e as Error).message}`);
    }
    if (payload.role === 'admin') return null;
    const companies = payload.companies;
    if (Array.isArray(companies) && companies.length > 0 && companies.every((c) => typeof c === 'string')) {
      return new Set(companies as string[]);
    }
    throw new FleetlineError('BAD_TOKEN', 'the token grants neither companies nor the admin role');
  }

  /** Issues a token (demo mode, tests and the load-test harness). */
  async sign(claims: { companies?: string[]; role?: 'admin'; sub?: string }, expiresIn = '12h'): Promise<string> {
    return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(this.key);
  }
}

/** The bearer token of an HTTP request: `Authorization: Bearer …` or `?token=`. */
export function bearerToken(authorization: string | undefined, query: URLSearchParams): string | undefined {
  if (authorization && /^Bearer\s+/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, '').trim();
  return query.get('token') ?? undefined;
}
