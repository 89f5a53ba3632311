import { ErrorCodes, FleetlineError, type ErrorCode } from '../actors/domain/errors.js';
import { validatePoint, type TelemetryPoint } from '../actors/domain/telemetry-point.js';
import type { EngineMetrics } from '../actors/ports/engine-metrics.js';
import { Topics, type OutgoingRecord, type PartitionedLog } from '../actors/ports/partitioned-log.js';
import { decodeJson, decodeMsgpack, encodeMsgpackBatch } from '../adapters/codec/msgpack-codec.js';

interface IntakeResult {
  readonly accepted: number;
  readonly rejected: { index: number; reason: ErrorCode }[];
}

/**
 * The ingestion gateway: validates records and appends the good ones to telemetry.raw. It
 * answers only after the log acknowledged them, so an accepted point is never lost.
 */
export class TelemetryIntake {
  constructor(
    private readonly bus: PartitionedLog,
    private readonly metrics: EngineMetrics,
    private readonly maxRecords: number,
  ) {}

  /** Decodes an HTTP body by content type. Throws FleetlineError (MALFORMED_BODY, UNSUPPORTED_MEDIA_TYPE, TOO_MANY_RECORDS). */
  decodeBody(body: Uint8Array, contentType: string | undefined): unknown[] {
    const type = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
    let doc: unknown;
    try {
      if (type === 'application/json' || type === 'text/json' || type === '') doc = decodeJson(body);
      else if (type === 'application/msgpack' || type === 'application/x-msgpack' || type === 'application/vnd.msgpack') doc = decodeMsgpack(body);
      else throw new FleetlineError('UNSUPPORTED_MEDIA_TYPE');
    } catch (e) {
      if (e instanceof FleetlineError) throw e;
      throw new FleetlineError('MALFORMED_BODY', (e as Error).message);
    }
    const records = Array.isArray(doc) ? doc : [doc];
    if (records.length > this.maxRecords) {
      throw new FleetlineError('TOO_MANY_RECORDS', `at most ${this.maxRecords} records per request, got ${records.length}`);
    }
    return records;
  }

  /**
   * Validates every record and checks its device against the caller's credential (`mayMove`);
   * a bad or forbidden one never rejects the good ones beside it.
   */
  async ingest(records: readonly unknown[], source: 'http' | 'osmand', mayMove: (deviceId: string) => ErrorCode | null): Promise<IntakeResult> {
    const now = Date.now();
    const rejected: { index: number; reason: ErrorCode }[] = [];
    const good: TelemetryPoint[] = [];
    records.forEach((raw, index) => {
      const v = validatePoint(raw, now);
      const reason = v.ok ? mayMove(v.point.deviceId) : v.reason;
      if (reason === null && v.ok) good.push(v.point);
      else if (reason !== null) {
        rejected.push({ index, reason });
        this.metrics.pointRejected(reason, source);
      }
    });
    await this.publish(good);
    return { accepted: good.length, rejected };
  }

  /** Counts a record refused before validation (OsmAnd's device check, a report with nothing to place). */
  refused(reason: ErrorCode, source: 'http' | 'osmand'): void {
    this.metrics.pointRejected(reason, source);
  }

  /** Appends already-validated points from inside the node (the demo simulator): no credential check. */
  async publish(points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return;
    const out: OutgoingRecord[] = new Array(points.length);
    const values = encodeMsgpackBatch(points);
    for (let i = 0; i < points.length; i++) out[i] = { key: points[i].deviceId, value: values[i] };
    try {
      await this.bus.publish(Topics.telemetryRaw, out);
    } catch (e) {
      throw new FleetlineError('BUS_UNAVAILABLE', `${ErrorCodes.BUS_UNAVAILABLE} (${(e as Error).message})`);
    }
  }
}
