/**
 * Reconnect delays: exponential, capped, with "equal jitter" (half fixed, half random) so a
 * fleet of clients dropped by one node does not come back in one wave, yet none retries at once.
 */
export interface BackoffOptions {
  /** First delay. Default: 500 ms. */
  readonly minDelayMs?: number;
  /** Largest delay. Default: 15 000 ms. */
  readonly maxDelayMs?: number;
  /** Growth per failed attempt. Default: 2. */
  readonly factor?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly min: number;
  private readonly max: number;
  private readonly factor: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.min = options.minDelayMs ?? 500;
    this.max = Math.max(this.min, options.maxDelayMs ?? 15_000);
    this.factor = options.factor ?? 2;
  }

  /** The delay before the next attempt; each call grows the following one. */
  next(): number {
    const ceiling = Math.min(this.max, this.min * Math.pow(this.factor, this.attempt));
    this.attempt++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A connection that worked: start again from the smallest delay. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
