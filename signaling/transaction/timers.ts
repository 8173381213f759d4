/** Every RFC 3261 §17 / RFC 6026 timer in one place (milliseconds). */
export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;

export const Timers = {
  /** INVITE request retransmit (unreliable transports only), doubling. */
  A: T1,
  /** INVITE client transaction timeout. */
  B: 64 * T1,
  /** Wait for response retransmits after a non-2xx final (client INVITE). */
  D: (reliable: boolean) => (reliable ? 0 : 32000),
  /** Non-INVITE request retransmit, doubling up to T2. */
  E: T1,
  /** Non-INVITE client transaction timeout. */
  F: 64 * T1,
  /** INVITE final response retransmit (server, unreliable). */
  G: T1,
  /** Wait for ACK after a non-2xx final. */
  H: 64 * T1,
  /** Absorb ACK retransmits. */
  I: (reliable: boolean) => (reliable ? 0 : T4),
  /** Absorb non-INVITE request retransmits (unreliable transports only: reliable ones keep nothing). */
  J: 64 * T1,
  /** Absorb non-INVITE response retransmits. */
  K: (reliable: boolean) => (reliable ? 0 : T4),
  /** RFC 6026 Accepted state: server side after a 2xx. */
  L: 64 * T1,
  /** RFC 6026 Accepted state: client side after a 2xx. */
  M: 64 * T1,
};
