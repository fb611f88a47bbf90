/**
 * CLOSE_NAMES are the readable names of the close codes of RFC 6455 7.4.1 and the IANA
 * registry, as `duplex connect` prints them.
 */
const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code',
  1006: 'abnormal closure, no close frame',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal server error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failure',
};

/** describeClose renders a close code and reason for people: `1001 going away: "server shutting down"`. */
export function describeClose(code: number, reason: string): string {
  const name =
    CLOSE_NAMES[code] ??
    (code >= 4000 && code <= 4999
      ? 'application-defined'
      : code >= 3000 && code <= 3999
        ? 'registered by a library'
        : 'unknown');
  return `${code} ${name}${reason ? `: ${JSON.stringify(reason)}` : ''}`;
}
