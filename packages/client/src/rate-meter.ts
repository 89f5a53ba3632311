/**
 * Counts per second over a sliding window of one-second buckets: `rate` is the count of the
 * last `windowS` whole seconds divided by their length (0 until a second has passed).
 */
export class RateMeter {
  private readonly buckets: number[];
  private bucketSecond = -1;
  private started = -1;

  constructor(private readonly windowS = 5, private readonly now: () => number = Date.now) {
    this.buckets = new Array<number>(windowS).fill(0);
  }

  add(n = 1): void {
    const second = this.advance();
    this.buckets[second % this.windowS] += n;
  }

  /** Per second, over the last whole seconds (up to `windowS`). */
  get rate(): number {
    const second = this.advance();
    const whole = Math.min(this.windowS - 1, second - this.started);
    if (whole <= 0) return 0;
    let sum = 0;
    for (let s = second - whole; s < second; s++) sum += this.buckets[s % this.windowS];
    return sum / whole;
  }

  private advance(): number {
    const second = Math.floor(this.now() / 1000);
    if (this.started < 0) {
      this.started = second;
      this.bucketSecond = second;
    }
    // clear the buckets of the seconds that passed without a count
    for (let s = this.bucketSecond + 1; s <= second && s <= this.bucketSecond + this.windowS; s++) this.buckets[s % this.windowS] = 0;
    if (second > this.bucketSecond) this.bucketSecond = second;
    return second;
  }
}
