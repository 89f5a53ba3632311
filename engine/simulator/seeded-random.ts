/** 32-bit integer hash of three numbers (murmur3-style finaliser), for seeding and the grid. */
export function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ Math.imul(c, 0x27d4eb2f), 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * One mulberry32 stream per device, all in one typed array: a device's draws never depend on
 * how many other devices there are or in which order they are stepped.
 */
export class DeviceRandom {
  private readonly rng: Uint32Array;

  constructor(devices: number) {
    this.rng = new Uint32Array(devices);
  }

  seed(d: number, value: number): void {
    this.rng[d] = value;
  }

  /** mulberry32 over the device's own state: a number in [0, 1). */
  next(d: number): number {
    const a = (this.rng[d] + 0x6d2b79f5) >>> 0;
    this.rng[d] = a;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
