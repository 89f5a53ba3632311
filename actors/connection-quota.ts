/**
 * Open streams per token on this node (WS_MAX_CONNECTIONS_PER_TOKEN): one leaked or shared
 * token cannot hold thousands of subscriber actors. The key is the token's identity as the
 * verifier names it (Session.tokenId). Per node: a cluster of N nodes lets a token hold N
 * times the limit, as a load balancer spreads its connections.
 */
export class ConnectionQuota {
  private readonly open = new Map<string, number>();

  constructor(readonly perToken: number) {}

  /** Takes a place for `tokenId`; false when the token already holds `perToken` streams. */
  acquire(tokenId: string): boolean {
    const n = this.open.get(tokenId) ?? 0;
    if (n >= this.perToken) return false;
    this.open.set(tokenId, n + 1);
    return true;
  }

  release(tokenId: string): void {
    const n = this.open.get(tokenId) ?? 0;
    if (n <= 1) this.open.delete(tokenId);
    else this.open.set(tokenId, n - 1);
  }

  /** Streams `tokenId` holds now. */
  held(tokenId: string): number {
    return this.open.get(tokenId) ?? 0;
  }
}
