import { CloseCodes, ErrorCodes } from '../actors/domain/errors.js';
import { configurationReference } from './config.js';

/** docs/errors.md, generated from the one error table in actors/domain/errors.ts. */
function errorsReference(): string {
  const rows = Object.entries(ErrorCodes).map(([code, msg]) => `| \`${code}\` | ${msg} |`);
  const closes = Object.entries(CloseCodes).map(([name, code]) => `| ${code} | \`${name}\` |`);
  return [
    '# Error codes',
    '',
    'One table for every surface: HTTP error bodies (`{"error":{"code","message"}}`), WebSocket',
    '`{t:"err", code, msg}` frames, per-record rejections of `POST /v1/telemetry`',
    '(`rejected[].reason`), the `reason` label of `fleetline_points_rejected_total`, and logs.',
    '`DUPLICATE` and the filter codes (`INVALID_FIX` … `MIN_DISTANCE`) are found by the vehicle actor after the',
    'intake answered, so they appear only in that metric (`source="actor"`), never in `rejected[]` ([http-api.md](http-api.md)).',
    'Generated from `actors/domain/errors.ts` by `npm run docs`; a test fails when they disagree.',
    '',
    '| Code | Meaning |',
    '| --- | --- |',
    ...rows,
    '',
    '## WebSocket close codes',
    '',
    '| Code | Name |',
    '| --- | --- |',
    ...closes,
    '',
  ].join('\n');
}

export const generatedDocs: Record<string, () => string> = {
  'docs/configuration.md': configurationReference,
  'docs/errors.md': errorsReference,
};
