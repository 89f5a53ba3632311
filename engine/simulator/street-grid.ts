import { hash3, type DeviceRandom } from './seeded-random.js';

/** Distance between neighbouring intersections (before jitter). */
const GRID_SPACING_M = 400;
/** Every n-th street (in both directions) is an arterial road. */
const ARTERIAL_EVERY = 6;
/** Intersections are moved by up to this fraction of the spacing, so streets are not ruler-straight. */
const JITTER = 0.22;
/** Beyond this distance from the centre arterials become fast roads (up to 90 km/h). */
const OUTER_RING_M = 7_000;

const STRAIGHT_ON_P = 0.8;

/**
 * The simulated city: a jittered street grid around the centre (node k = j * size + i, at
 * nodeX[k] metres east and nodeY[k] metres north of it), and how a vehicle finds its way
 * across it. Route choices draw from the vehicle's own random stream.
 */
export class StreetGrid {
  /** Grid indices run 0..2*half in both directions. */
  readonly half: number;
  readonly size: number;
  readonly nodeX: Float64Array; // metres east of the centre
  readonly nodeY: Float64Array; // metres north of the centre

  constructor(seed: number, private readonly radiusM: number) {
    // Street grid covering the square around the disc, with a little margin.
    this.half = Math.max(2, Math.ceil(radiusM / GRID_SPACING_M) + 1);
    this.size = 2 * this.half + 1;
    const nodes = this.size * this.size;
    this.nodeX = new Float64Array(nodes);
    this.nodeY = new Float64Array(nodes);
    for (let j = 0; j < this.size; j++) {
      for (let i = 0; i < this.size; i++) {
        const k = j * this.size + i;
        // Arterials stay straighter than side streets.
        const jx = i % ARTERIAL_EVERY === 0 ? 0.25 : 1;
        const jy = j % ARTERIAL_EVERY === 0 ? 0.25 : 1;
        const hx = hash3(seed, i, j * 2) / 4294967296 - 0.5;
        const hy = hash3(seed, i, j * 2 + 1) / 4294967296 - 0.5;
        this.nodeX[k] = (i - this.half) * GRID_SPACING_M + 2 * hx * JITTER * GRID_SPACING_M * jx;
        this.nodeY[k] = (j - this.half) * GRID_SPACING_M + 2 * hy * JITTER * GRID_SPACING_M * jy;
      }
    }
  }

  /** Road class: a segment between neighbouring nodes lies on street column i (north-south) or row j (east-west). */
  isArterial(from: number, to: number): boolean {
    const g = this.size;
    const vertical = Math.abs(to - from) === g;
    const line = vertical ? from % g : (from / g) | 0;
    return line % ARTERIAL_EVERY === 0;
  }

  /** Whether the segment's midpoint lies beyond the outer ring, where arterials are fast roads. */
  isOuter(from: number, to: number): boolean {
    const mx = (this.nodeX[from] + this.nodeX[to]) / 2;
    const my = (this.nodeY[from] + this.nodeY[to]) / 2;
    return mx * mx + my * my > OUTER_RING_M * OUTER_RING_M;
  }

  randomNodeInDisc(random: DeviceRandom, d: number): number {
    const r = this.radiusM * Math.sqrt(random.next(d)) * 0.97;
    const a = random.next(d) * 2 * Math.PI;
    return this.nearestNode(r * Math.cos(a), r * Math.sin(a));
  }

  private nearestNode(x: number, y: number): number {
    const g = this.size;
    const i = Math.min(g - 1, Math.max(0, Math.round(x / GRID_SPACING_M) + this.half));
    const j = Math.min(g - 1, Math.max(0, Math.round(y / GRID_SPACING_M) + this.half));
    return j * g + i;
  }

  /** A destination at least ~1 km (grid distance) away from `here`. */
  pickDestination(here: number, random: DeviceRandom, d: number): number {
    const g = this.size;
    const hi = here % g;
    const hj = (here / g) | 0;
    let dest = here;
    for (let tries = 0; tries < 12; tries++) {
      const cand = this.randomNodeInDisc(random, d);
      const manhattan = Math.abs((cand % g) - hi) + Math.abs(((cand / g) | 0) - hj);
      if (manhattan >= 3) {
        dest = cand;
        break;
      }
    }
    if (dest === here) {
      // Tiny radius: go to a neighbouring intersection.
      dest = hi + 1 < g ? here + 1 : here - 1;
    }
    return dest;
  }

  /** The intersection after `at` on the way to `dest`, or -1 when `at` is the destination. */
  nextStep(at: number, dest: number, cameFrom: number, random: DeviceRandom, d: number): number {
    const g = this.size;
    if (at === dest) return -1;
    const ai = at % g;
    const aj = (at / g) | 0;
    const di = (dest % g) - ai;
    const dj = ((dest / g) | 0) - aj;
    const stepX = di === 0 ? 0 : di > 0 ? 1 : -1;
    const stepY = dj === 0 ? 0 : dj > 0 ? g : -g;
    if (stepX === 0) return at + stepY;
    if (stepY === 0) return at + stepX;
    // Both axes still to go: keep the current direction most of the time.
    const heading = cameFrom < 0 ? 0 : at - cameFrom;
    if (heading === stepX || heading === stepY) {
      if (random.next(d) < STRAIGHT_ON_P) return at + heading;
      return at + (heading === stepX ? stepY : stepX);
    }
    return random.next(d) * (Math.abs(di) + Math.abs(dj)) < Math.abs(di) ? at + stepX : at + stepY;
  }
}
