// Types for the `consistent-hash` package (it ships none): the part of its API Fleetline uses.
declare module 'consistent-hash' {
  interface ConsistentHashOptions {
    /** Modulo range of control points; an odd number, relatively prime to the node count. */
    range?: number;
    weight?: number;
  }
  class ConsistentHash {
    constructor(options?: ConsistentHashOptions);
    readonly nodeCount: number;
    readonly keyCount: number;
    /** Adds a node with explicit control points (never random ones: every process must agree). */
    add(node: string, weight?: number, points?: readonly number[]): this;
    remove(node: string): this;
    get(name: string): string | null;
    get(name: string, count: number): string[] | null;
    getPoints(node: string): number[] | undefined;
  }
  export = ConsistentHash;
}
