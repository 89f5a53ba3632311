import { writeFileSync } from 'node:fs';
import { generatedDocs } from '../engine/reference-docs.js';

/** Regenerates the reference docs that are derived from code (configuration, error codes). */
for (const [path, render] of Object.entries(generatedDocs)) {
  writeFileSync(new URL(`../${path}`, import.meta.url), render());
  process.stdout.write(`wrote ${path}\n`);
}
