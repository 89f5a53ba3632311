import { FleetlineError } from '../actors/domain/errors.js';

/**
 * Page cursors: the key of the last row of a page (keyset paging), so a page never shifts when
 * rows are added before it, and the route it belongs to. Opaque to clients (base64url of JSON);
 * a cursor of another route, or one that does not decode, is 400 BAD_QUERY.
 */
export type CursorKey = readonly (string | number)[];

export function encodeCursor(route: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify([route, ...key]), 'utf8').toString('base64url');
}

/** The key of a cursor of `route`, checked against `shape` (the type of each part). */
export function decodeCursor(route: string, raw: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    parts = null;
  }
  if (!Array.isArray(parts) || parts[0] !== route || parts.length !== shape.length + 1) {
    throw new FleetlineError('BAD_QUERY', `cursor: not a cursor of ${route} (pass nextCursor of the previous page unchanged)`);
  }
  const key = parts.slice(1) as unknown[];
  key.forEach((v, i) => {
    const ok = shape[i] === 'number' ? Number.isSafeInteger(v) : typeof v === 'string' && v.length > 0 && v.length <= 256;
    if (!ok) throw new FleetlineError('BAD_QUERY', 'cursor: malformed');
  });
  return key as (string | number)[];
}
