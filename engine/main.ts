import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startNode } from './fleetline-node.js';
import { ENGINE_NODE_FLAGS, startedWithEngineFlags } from './node-flags.js';

/** One line for stderr: exactly one trailing newline, whatever the message ends with. */
function line(text: string): string {
  return `${text.replace(/\s+$/, '')}\n`;
}

/** Entry point: `npm start` (FLEETLINE_MODE=demo on the embedded default) or `node dist/engine/main.js` (production). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(line(`fleetline: ${e.message}`));
      process.exit(2);
    }
    throw e;
  }
  const log = pino({ level: config.logLevel, base: { node: config.nodeId } });
  // A promise nobody awaited failing (a store call during an outage, say) is a bug to log
  // loudly, not a reason to take every vehicle on this node down with it.
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack }, 'uncaught exception; exiting');
    process.exit(1);
  });
  if (!startedWithEngineFlags()) {
    log.warn({ flags: ENGINE_NODE_FLAGS }, 'node was started without the engine\'s flags: the collector will cost more CPU per point (docs/deployment.md, "Starting a node")');
  }
  const node = await startNode(config, log);
  if (node.demoToken) {
    const token = await node.demoToken();
    process.stdout.write(
      `\nFleetline demo is running: open ${node.url}/ in a browser (${config.demoDevices} simulated vehicles).\n` +
      `Admin token for API calls (demo mode only; ${node.url}/v1/demo/token hands out fresh ones):\n` +
      `  export TOKEN=${token}\n  curl -H "Authorization: Bearer $TOKEN" '${node.url}/v1/vehicles?limit=5'\n\n`,
    );
  }
  // A drained node (npx fleetline cluster drain) has handed off and stopped: its work is done.
  void node.cluster?.drained.then(() => process.exit(0));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    node.close().then(() => process.exit(0), (e: Error) => {
      log.error({ err: e.message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(line(`fleetline: failed to start: ${e.stack ?? e.message}`));
  process.exit(1);
});
