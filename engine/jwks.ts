import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';

/**
 * Where the public keys of RS256 tokens come from: a JSON Web Key Set in a file
 * (JWT_JWKS_FILE) or at the identity provider's URL (JWT_JWKS_URL). Either way the key is
 * picked by the token's `kid` (or is the only one that fits), and a `kid` the set lacks makes
 * it look again, at most every `refreshMs`: keys rotate without a restart.
 */
export interface JwksSource {
  readonly file?: string | null;
  readonly url?: string | null;
  /** Least time between two reloads for an unknown `kid` (default 30 s). */
  readonly refreshMs?: number;
}

const DEFAULT_REFRESH_MS = 30_000;

/** The key lookup of a JWKS source, or null when none is configured. Throws when the file is missing or not a JWKS. */
export function openJwks(source: JwksSource): JWTVerifyGetKey | null {
  const refreshMs = source.refreshMs ?? DEFAULT_REFRESH_MS;
  if (source.file) return fileJwks(source.file, refreshMs);
  if (source.url) {
    return createRemoteJWKSet(new URL(source.url), { timeoutDuration: 5000, cooldownDuration: refreshMs, cacheMaxAge: 10 * 60_000 });
  }
  return null;
}

/**
 * Fetches a remote key set now, so that an identity provider the node cannot reach shows in
 * the log at start rather than as refused clients. Resolves with its number of keys; null for
 * a file (read when opened).
 */
export async function preloadJwks(lookup: JWTVerifyGetKey): Promise<number | null> {
  const remote = lookup as Partial<RemoteJWKSet>;
  if (typeof remote.reload !== 'function' || typeof remote.jwks !== 'function') return null;
  await remote.reload();
  return remote.jwks()?.keys.length ?? 0;
}

function parseJwks(text: string, file: string): JSONWebKeySet {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`JWT_JWKS_FILE ${file} is not JSON: ${(e as Error).message}`);
  }
  const keys = (v as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null)) {
    throw new Error(`JWT_JWKS_FILE ${file} is not a JSON Web Key Set: it needs a non-empty "keys" array`);
  }
  return v as JSONWebKeySet;
}

function fileJwks(file: string, refreshMs: number): JWTVerifyGetKey {
  // Read synchronously once, so that a bad file stops the start rather than the first token.
  let lookup = createLocalJWKSet(parseJwks(readFileSync(file, 'utf8'), file));
  let loadedAt = Date.now();
  return async (header, token) => {
    try {
      return await lookup(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey) || Date.now() - loadedAt < refreshMs) throw e;
      loadedAt = Date.now();
      // A file being rewritten may be read half-way: the old keys stay until a whole set is read.
      try {
        lookup = createLocalJWKSet(parseJwks(await readFile(file, 'utf8'), file));
      } catch {
        throw e;
      }
      return lookup(header, token);
    }
  };
}
