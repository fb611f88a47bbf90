/** CloseCode names the status codes of RFC 6455 section 7.4.1 and the IANA registry. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never on the wire. */
  NO_STATUS: 1005,
  /** Reserved: never on the wire; reported locally when the TCP connection ended without a close frame. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: never on the wire (TLS handshake failure). */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * isValidWireCloseCode tells whether a code may appear in a close frame.
 * RFC 6455 7.4: 1000-1003 and 1007-1011 are defined; 1012-1014 are registered with IANA;
 * 1004, 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame";
 * 1016-2999 are reserved for future revisions; 3000-3999 are registered by libraries and
 * frameworks; 4000-4999 are for private use; below 1000 and above 4999 are not used.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
