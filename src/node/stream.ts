import { Duplex, type DuplexOptions } from 'node:stream';
import type { RawData } from './emitter-events.js';
import type { WebSocket } from './websocket.js';

/**
 * createWebSocketStream wraps a WebSocket in a Node Duplex stream, as ws's function of the
 * same name: each message received is a chunk read (a Buffer, or a string for text in
 * readable object mode), each chunk written is sent as one message (a Buffer as binary, a
 * string as text when `decodeStrings` is false). Backpressure holds both ways: when the
 * readable side's buffer is full the WebSocket stops reading (`pause`), so the peer is
 * slowed through TCP; a write completes only once its message reached the kernel, so a
 * writer that respects `write()`'s return value never buffers more than the
 * `highWaterMark`. It sets the WebSocket's `binaryType` to 'nodebuffer'. Ending the writable side closes the WebSocket (1000 is not sent: a
 * close frame without a code, as ws does); destroying the stream terminates it. Writes made
 * while the WebSocket connects wait for `open`.
 */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  // Chunks are Buffers: a Blob cannot be pushed synchronously.
  ws.binaryType = 'nodebuffer';
  let closed = ws.readyState === ws.CLOSED;
  let failure: Error | undefined;
  const stream = new Duplex({
    ...options,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer | string, _encoding, callback) {
      whenOpen(callback, () => ws.send(chunk, callback));
    },
    final(callback) {
      whenOpen(callback, () => {
        if (closed) return callback();
        ws.once('close', () => callback());
        ws.close();
      });
    },
    destroy(error, callback) {
      if (closed) return callback(error);
      ws.once('close', () => callback(error ?? failure ?? null));
      ws.terminate();
    },
  });

  /** whenOpen runs `action` once the WebSocket is open, or fails `callback` when it never opens. */
  const whenOpen = (callback: (error?: Error | null) => void, action: () => void): void => {
    if (ws.readyState !== ws.CONNECTING) {
      action();
      return;
    }
    const onOpen = () => {
      ws.off('close', onClose);
      action();
    };
    const onClose = () => {
      ws.off('open', onOpen);
      callback(failure ?? new Error('the WebSocket closed before it opened'));
    };
    ws.once('open', onOpen);
    ws.once('close', onClose);
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    let chunk: Buffer | string = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (!isBinary && stream.readableObjectMode) chunk = chunk.toString('utf8');
    if (!stream.push(chunk)) ws.pause();
  });
  ws.on('error', (error: Error) => {
    failure = error;
    stream.destroy(error);
  });
  ws.on('close', () => {
    closed = true;
    if (!stream.destroyed) stream.push(null);
  });
  if (closed) stream.push(null);
  return stream;
}
