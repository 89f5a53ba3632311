/**
 * Node (V8) flags every engine process is started with: `npm start`, the image's CMD, the
 * harness's engine, the tests' engine processes and the benchmarks that start or host a node.
 * Only the flag's presence is checked at start (a value given on purpose is the operator's).
 *
 * A vehicle's points, deltas, forwards and checkpoint rows live for about one checkpoint (1 s).
 * V8's default young generation (16 MiB semi-spaces) fills several times a second at tens of
 * thousands of points per second, so that short-lived garbage survives two scavenges, is
 * promoted, and then costs the full collections of a heap that holds every vehicle. 64 MiB
 * semi-spaces let most of it die young: `npm run bench:apply` applied 13 % more points per
 * second at 12 % less CPU per point (docs/performance.md, "The young generation, and what the
 * apply path's profiles showed next"). The space grows only under allocation pressure: an idle
 * node does not pay for it.
 */
export const ENGINE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/** Whether this process was started with the flags above (on the command line or in NODE_OPTIONS). */
export function startedWithEngineFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0].replaceAll('_', '-')));
  return ENGINE_NODE_FLAGS.every((f) => given.has(f.split('=')[0]));
}
