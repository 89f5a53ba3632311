#!/usr/bin/env node
// `npx fleetline …`: the built CLI (npm run build), or the TypeScript source through tsx in a
// checkout that has not been built.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/engine/cli.js', import.meta.url));
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../engine/cli.ts', import.meta.url).href);
}
