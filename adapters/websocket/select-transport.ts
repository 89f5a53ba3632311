import type { Logger } from 'pino';
import type { Transport, TransportOptions } from '../../actors/ports/transport.js';
import { loadNativeUws, UwsTransport } from './uws-transport.js';
import type { NativeUws } from './uws-transport.js';
import { WsTransport } from './ws-transport.js';

export type TransportPreference = 'auto' | 'uws' | 'ws';

/** `load` is injectable so the fallback path can be tested on a machine where the binary does load. */
export function createTransport(
  preference: TransportPreference,
  options: TransportOptions,
  log: Logger,
  load: () => NativeUws = loadNativeUws,
): Transport {
  if (preference === 'ws') return new WsTransport(options, log);
  const native = load();
  if (native.ok) return new UwsTransport(options, log);
  const platform = `${process.platform}-${process.arch}, Node ABI ${process.versions.modules}`;
  if (preference === 'uws') {
    throw new Error(`TRANSPORT=uws but the native uWebSockets.js binary did not load (${platform}): ${native.error}`);
  }
  log.warn(
    { transport: 'ws', reason: native.error },
    `native uWebSockets.js binary did not load (${platform}: ${native.error}); using the portable ws transport instead, with much lower throughput`,
  );
  return new WsTransport(options, log);
}
