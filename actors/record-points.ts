import type { LogRecord } from './ports/partitioned-log.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { Logger } from './ports/logger.js';
import { validatePoint, type TelemetryPoint } from './domain/telemetry-point.js';

export interface RecordDecoding {
  readonly decodeRecord: (bytes: Uint8Array) => unknown;
  readonly metrics: EngineMetrics;
  readonly logger: Logger;
}

/**
 * The valid points of one telemetry.raw record (one point or an array of them). Never throws:
 * an undecodable record and every invalid point are counted and logged, and skipped.
 */
export function decodePoints(r: LogRecord, now: number, deps: RecordDecoding): TelemetryPoint[] {
  if (r.value === null) return [];
  let raw: unknown;
  try {
    raw = deps.decodeRecord(r.value);
  } catch (e) {
    deps.metrics.pointRejected('UNDECODABLE', 'log');
    deps.logger.warn({ partition: r.partition, offset: r.offset, key: r.key, err: (e as Error).message }, 'poison record skipped');
    return [];
  }
  const out: TelemetryPoint[] = [];
  for (const item of Array.isArray(raw) ? raw : [raw]) {
    const v = validatePoint(item, now);
    if (v.ok) out.push(v.point);
    else {
      deps.metrics.pointRejected(v.reason, 'log');
      deps.logger.debug({ partition: r.partition, offset: r.offset, reason: v.reason }, 'record rejected');
    }
  }
  return out;
}
