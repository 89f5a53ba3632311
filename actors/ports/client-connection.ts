/** What a subscriber actor needs of a WebSocket connection (the transport's WsConnection fits). */
export interface ClientConnection {
  send(frame: Uint8Array): boolean;
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

/** What a token grants: a set of company ids, or null for admin (everything). */
export type Grant = ReadonlySet<string> | null;

export interface TokenVerifier {
  /** Resolves with the grant; rejects with a FleetlineError BAD_TOKEN. */
  verify(token: string): Promise<Grant>;
}
