import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { fixedPace, LoadAdaptivePace, type FlushPace } from '../actors/flush-pace.js';

const SAMPLE_MS = 250;

/** The node's WebSocket/SSE flush interval: WS_FLUSH_MS, stretched up to WS_MAX_FLUSH_MS while the event loop is busy. */
export function eventLoopPace(flushMs: number, maxFlushMs: number): { pace: FlushPace; stop: () => void } {
  if (maxFlushMs <= flushMs) return { pace: fixedPace(flushMs), stop: () => {} };
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const pace = new LoadAdaptivePace(flushMs, maxFlushMs, () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  });
  const timer = setInterval(() => pace.sample(), SAMPLE_MS);
  timer.unref();
  return { pace, stop: () => clearInterval(timer) };
}
