import type { Duplex } from 'node:stream';
import { adoptHandle } from './handle-wire.js';
import { StreamWire } from './stream-wire.js';
import { adoptTls } from './tls-wire.js';
import type { Wire, WireListener } from './wire.js';

/**
 * openWire starts the wire of an upgraded socket: `head` (bytes the HTTP parser read past
 * the handshake) is delivered first, then what the socket holds, then new reads. With
 * `adopt` (the server side), a plain TCP node:net Socket is adopted by a HandleWire
 * (handle-wire.ts: its handle moves over, its addresses stay readable, and Node's internal
 * bindings are loaded then, on the first adoption, never at import), and a server-side
 * tls.TLSSocket has its TLSWrap driven by one (tls-wire.ts). Anything else, a socket
 * with writes still pending, or `adopt: false` (the client side) gets a StreamWire.
 */
export function openWire(
  socket: Duplex,
  head: Buffer | undefined,
  listener: WireListener,
  adopt: boolean,
): Wire {
  const adopted = adopt
    ? (adoptHandle(socket, head, listener) ?? adoptTls(socket, head, listener))
    : undefined;
  if (adopted !== undefined) return adopted;
  const wire = new StreamWire(socket, listener);
  wire.start(head);
  return wire;
}
