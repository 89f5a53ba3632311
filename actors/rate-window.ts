/**
 * Counts events in one-second windows: the limit of client frames and of subscription
 * changes. A window opens with the first event after the previous one ended, so a client
 * that stays under the limit is never refused, and the state is two numbers, not a log of
 * timestamps.
 */
export class RateWindow {
  private start = 0;
  private count = 0;

  constructor(readonly perSecond: number) {}

  /** Counts one event at `now` (ms); false when it is over the limit of its window. */
  take(now: number): boolean {
    if (now - this.start >= 1000) {
      this.start = now;
      this.count = 0;
    }
    return ++this.count <= this.perSecond;
  }
}
