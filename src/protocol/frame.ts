/** Opcode names the frame opcodes of RFC 6455 section 5.2; 0x3-0x7 and 0xB-0xF are reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Frame is one parsed WebSocket frame with its payload already unmasked. */
export interface Frame {
  fin: boolean;
  /** The RSV bits as they sit in the first header byte (0x40 RSV1, 0x20 RSV2, 0x10 RSV3). */
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/** isControlOpcode tells whether an opcode is a control frame's (close, ping, pong and the reserved 0xB-0xF). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125;
