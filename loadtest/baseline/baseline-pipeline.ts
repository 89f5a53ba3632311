import { pino, type Logger } from 'pino';
import { loadBaselineConfig, type BaselineConfig } from './config.js';
import { startProcessor, type ProcessorHandle } from './processor.js';
import { startFanout, type FanoutHandle } from './fanout.js';

export interface BaselineHandle {
  readonly config: BaselineConfig;
  readonly processor: ProcessorHandle;
  readonly fanout: FanoutHandle;
  /** The fanout's http://host:port; clients connect to its /v1/stream. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Both services in this process, for a harness that drives the baseline from code (the
 * processor first: it creates the topics and seeds the reference data). For separate
 * processes, run processor.ts and fanout.ts as their own entries.
 */
export async function startBaseline(env: Readonly<Record<string, string | undefined>>, log?: Logger): Promise<BaselineHandle> {
  const config = loadBaselineConfig(env);
  const logger = log ?? pino({ level: config.logLevel });
  const processor = await startProcessor(config, logger);
  let fanout: FanoutHandle;
  try {
    fanout = await startFanout(config, logger);
  } catch (e) {
    await processor.stop();
    throw e;
  }
  return {
    config, processor, fanout, url: fanout.url,
    async stop() {
      await fanout.stop();
      await processor.stop();
    },
  };
}
