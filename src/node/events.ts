/**
 * CloseEvent is the WHATWG `close` event of a WebSocket (Node 20 has no global one):
 * the peer's close code and reason, 1005 when its close frame had no code, 1006 when the
 * TCP connection ended without a close frame; `wasClean` when both close frames passed.
 */
export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/**
 * ErrorEvent is the `error` event of a WebSocket. Unlike a browser's, it carries the
 * cause in `error` (a DuplexError with a stable `code`, or a socket error), so that Node
 * applications can tell a refused handshake from a reset connection.
 */
export class ErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : '');
  }
}

/**
 * DataEvent is the shape of the `message`, `ping` and `pong` events: a MessageEvent
 * (Node's global class, as in browsers) whose `data` has the type `T`.
 */
export type DataEvent<T> = Event & { readonly data: T };

/** messageEvent builds a global MessageEvent carrying `data`. */
export function messageEvent<T>(type: string, data: T): DataEvent<T> {
  return new MessageEvent(type, { data }) as DataEvent<T>;
}
