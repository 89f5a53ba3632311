/* The counters the panel shows; it reads them once a second and resets the *InWindow ones. */

export const stats = {
  framesInWindow: 0,
  updatesInWindow: 0,
  eventsInWindow: 0,
  lastSeq: null,
  seqGaps: 0,
  clockSkew: null, // server clock − local clock (ms), from pong
  lastLatency: null,
  avgLatency: null,
  lastRtt: null,
};
