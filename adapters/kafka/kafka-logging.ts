import { logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../../actors/ports/logger.js';

const KAFKA_TO_PINO: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logCreator that forwards to a pino-style logger. */
export function pinoLogCreator(log: Logger) {
  return (_level: logLevel) => ({ namespace, level, log: entry }: LogEntry): void => {
    const { message, timestamp: _ts, logger: _logger, ...extra } = entry;
    let method = KAFKA_TO_PINO[level];
    if (method === undefined) return;
    // kafkajs's Connection logs every error response (REBALANCE_IN_PROGRESS during a rebalance,
    // COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created, ...) at ERROR although the
    // caller retries it; what is not recovered surfaces as a rejection or a consumer crash.
    if (method === 'error' && namespace === 'Connection' && message.startsWith('Response ')) method = 'warn';
    log[method]({ kafkajs: namespace, ...extra }, message);
  };
}
