/** How one client's picture of its scope differs from the engine's at the end of a run. */
export interface StateDifference {
  /** Vehicles the engine has in scope. */
  expected: number;
  /** Vehicles the client holds at the engine's ts. */
  matched: number;
  /** In the engine's scope, absent from the client: an entering update was lost. */
  missing: string[];
  /** The client holds an older ts than the engine: the vehicle's last update was lost. */
  stale: string[];
  /** The client holds a vehicle the engine does not have in scope: a `gone` was lost. */
  extra: string[];
  /** The client holds a newer ts than the engine (it should never be ahead). */
  ahead: string[];
}

/** Compares a client's vehicle → ts map with the engine's answer to the same filter. */
export function compareState(client: ReadonlyMap<string, number>, engine: readonly { id: string; ts?: number }[]): StateDifference {
  const out: StateDifference = { expected: engine.length, matched: 0, missing: [], stale: [], extra: [], ahead: [] };
  const seen = new Set<string>();
  for (const v of engine) {
    seen.add(v.id);
    const held = client.get(v.id);
    if (held === undefined) out.missing.push(v.id);
    else if (v.ts === undefined || held === v.ts) out.matched++;
    else if (held < v.ts) out.stale.push(v.id);
    else out.ahead.push(v.id);
  }
  for (const id of client.keys()) if (!seen.has(id)) out.extra.push(id);
  return out;
}

/** Updates lost by a client: every way its final picture is behind the engine's. */
export function lostUpdates(d: StateDifference): number {
  return d.missing.length + d.stale.length + d.extra.length;
}
