import type { FleetSnapshot, ReferenceChange } from '../domain/reference-data.js';

/** Where reference data comes from: a file (embedded), PostgreSQL + fleet.reference (production). */
export interface ReferenceSource {
  readonly kind: string;
  load(): Promise<FleetSnapshot>;
  /** Follows changes after load(); returns a function that stops following. */
  follow(onChange: (change: ReferenceChange) => void): Promise<() => Promise<void>>;
}
