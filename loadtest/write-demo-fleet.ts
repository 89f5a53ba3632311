/**
 * Writes the demo fleet (engine/simulator/demo-fleet.ts) as JSON, one entry per line.
 *
 *   tsx loadtest/write-demo-fleet.ts [devices=3000] [out=<repo>/demo/fleet.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFleet } from '../engine/simulator/demo-fleet.js';

const devices = Number(process.argv[2] ?? 3000);
const out = process.argv[3] !== undefined ? resolve(process.argv[3]) : fileURLToPath(new URL('../demo/fleet.json', import.meta.url));
if (!Number.isInteger(devices) || devices < 0) {
  console.error(`devices must be an integer >= 0, got ${process.argv[2]}`);
  process.exit(2);
}

const fleet = demoFleet(devices);
const list = (items: readonly unknown[]): string =>
  items.length === 0 ? '[]' : `[\n${items.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
const text =
  `{\n  "companies": ${list(fleet.companies)},\n  "vehicles": ${list(fleet.vehicles)},\n  "devices": ${list(fleet.devices)},\n  "groups": ${list(fleet.groups)}\n}\n`;
JSON.parse(text); // the hand-made layout must stay valid JSON
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(
  `wrote ${out}: ${fleet.companies.length} companies, ${fleet.vehicles.length} vehicles, ` +
    `${fleet.devices.length} bound devices, ${devices - fleet.devices.length} unbound, ${fleet.groups.length} groups`,
);
