import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  HandleWire,
  handleIo,
  readShared,
  type TcpHandle,
  useSharedReadBuffer,
  wireOf,
} from './handle-wire.js';
import type { WireListener } from './wire.js';

/**
 * The TLS handle path (docs/design/stream-wire-speed.md): after the upgrade, a server-side
 * `tls.TLSSocket` keeps its TLS session, but its reads and writes go straight to its
 * `TLSWrap` handle, as HandleWire drives a TCP handle, instead of through the socket's
 * Readable and Writable (onStreamRead, Readable.push and its read-more tick, writeOrBuffer,
 * the after-write tick). The TLSWrap still does all of TLS: records, alerts, close_notify
 * (sent by `shutdown`, reported as EOF when received), renegotiation and its limits.
 *
 * The TLSSocket is not destroyed at adoption, unlike a plain Socket: Node's TLS callbacks
 * on the TLSWrap (onerror, onhandshakestart) report through it, so it stays the owner and
 * its `error` event fails the wire; it closes the connection (its TLSWrap, then the TCP
 * socket under it) when the wire is destroyed, and its `close` event ends the wire.
 */

interface TlsInternals {
  _handle: TcpHandle | null;
  _controlReleased?: boolean;
  _secureEstablished?: boolean;
  _readableState?: { ended?: boolean };
  encrypted?: boolean;
  ssl?: unknown;
}

const wireOfSocket = Symbol('duplex.tlsWire');

type TlsSocket = Socket & TlsInternals & { [wireOfSocket]?: HandleWire };

function socketError(this: TlsSocket, error: Error): void {
  this[wireOfSocket]?.fail(error);
}

/**
 * adoptTls drives the TLSWrap of a server-side TLSSocket with a HandleWire, or returns
 * undefined when the socket cannot be adopted (not a TLS socket over a TLSWrap, handshake
 * not finished, writes pending, its readable side ended, no handle path on this Node or
 * DUPLEX_STREAM_IO=1): the caller then takes the stream path.
 */
export function adoptTls(
  socket: Duplex,
  head: Buffer | undefined,
  listener: WireListener,
): HandleWire | undefined {
  if (!(socket instanceof Socket)) return undefined;
  const tls = socket as TlsSocket;
  if (tls.encrypted !== true) return undefined;
  const io = handleIo();
  if (io?.tlsWrap === undefined) return undefined;
  const handle = tls._handle;
  if (handle === null || !(handle instanceof io.tlsWrap)) return undefined;
  if (tls._controlReleased !== true || tls._secureEstablished !== true || !tls.ssl) return undefined;
  if (tls.destroyed || tls.connecting || tls.writableLength > 0 || tls.writableEnded) return undefined;
  if (tls.readableEnded || tls._readableState?.ended === true) return undefined;

  // Keep both ends' addresses readable once the socket is closed (node:net forgets its own
  // address on destroy; the peer's is cached once read).
  void tls.remoteAddress;
  const local = { localAddress: tls.localAddress, localPort: tls.localPort, localFamily: tls.localFamily };
  for (const [name, value] of Object.entries(local)) {
    Object.defineProperty(tls, name, { value, configurable: true, enumerable: false });
  }

  // The wire closes the connection by destroying the socket, and ends once it closed (also
  // when Node's TLS code destroyed the socket under the wire).
  let closed = false;
  let onClosed: (() => void) | undefined;
  const wire = new HandleWire(handle, listener, (done) => {
    if (closed) process.nextTick(done);
    else {
      onClosed = done;
      tls.destroy();
    }
  });
  tls.once('close', () => {
    closed = true;
    if (onClosed) onClosed();
    else wire.destroy();
  });
  // From here on the TLSWrap's reads come to the wire, not to the socket's Readable: into
  // the buffer all TLS wires share, through a closure of this wire (a TLS connection holds
  // tens of KB in OpenSSL; the closure saves a keyed lookup per read on handles whose
  // shapes vary).
  const onread = (): void => readShared(wire);
  handle[wireOf] = wire;
  handle.onread = onread;
  useSharedReadBuffer(handle);
  const held = tls.readableLength > 0 ? (tls.read(tls.readableLength) as Buffer | null) : null;
  tls[wireOfSocket] = wire;
  tls.on('error', socketError);
  tls.setTimeout(0);
  const early =
    held && held.length > 0 ? (head && head.length > 0 ? Buffer.concat([head, held]) : held) : head;
  wire.start(early, onread);
  return wire;
}
