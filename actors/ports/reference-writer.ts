import type { ReferenceChange } from '../domain/reference-data.js';

/**
 * Where the admin API writes reference data: the deployment's one source of truth (PostgreSQL
 * when it is configured, else the compacted fleet.reference topic). Every node, this one
 * included, applies the change when it comes back through its ReferenceSource or the topic.
 */
export interface ReferenceWriter {
  readonly kind: 'postgres' | 'topic';
  /** Writes the change; rejects with FleetlineError REFERENCE_CONFLICT or REFERENCE_UNAVAILABLE. */
  write(change: ReferenceChange): Promise<void>;
}
