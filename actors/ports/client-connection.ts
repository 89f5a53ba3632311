/** What a subscriber actor needs of a WebSocket connection (the transport's WsConnection fits). */
export interface ClientConnection {
  send(frame: Uint8Array): boolean;
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /** Runs `write`, whose sends leave together (one syscall) where the transport can batch them. */
  cork?(write: () => void): void;
}

/** What a token grants: a set of company ids, or null for admin (everything). */
export type Grant = ReadonlySet<string> | null;

/** A verified token: what it grants and when it stops granting it (ms since epoch). */
export interface Session {
  readonly grant: Grant;
  readonly expiresAt: number;
  /**
   * The token's identity for per-token limits (its `jti`, else `sub` and `iat`, else a hash of
   * the token); absent, no per-token limit applies.
   */
  readonly tokenId?: string;
}

export interface TokenVerifier {
  /** Resolves with the grant; rejects with a FleetlineError BAD_TOKEN (or FORBIDDEN: a token that may not read). */
  verify(token: string): Promise<Grant>;
  /** Like verify, with the token's expiry (streams end when it passes). */
  verifySession(token: string): Promise<Session>;
}
