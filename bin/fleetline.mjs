#!/usr/bin/env node
// `npx fleetline …`. In a checkout (TypeScript sources and tsx present) it runs the source, so it
// is never older than the code beside it; in the image (dist only) it runs the build.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = new URL('../engine/cli.ts', import.meta.url);
const built = new URL('../dist/engine/cli.js', import.meta.url);
let tsx = null;
if (existsSync(fileURLToPath(source))) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    // no tsx (a production install): the build below
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(fileURLToPath(built))) {
  await import(pathToFileURL(fileURLToPath(built)).href);
} else {
  process.stderr.write('fleetline: no CLI to run: build it with npm run build\n');
  process.exit(2);
}
