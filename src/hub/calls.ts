/**
 * Calls is one connection's table of RPC calls in flight: each with its AbortController and
 * deadline timer. It is created with the first call and dropped when the last one ends, so an
 * idle connection holds none.
 */
import { HubErrorCode } from '../wire/codes.js';
import type { CallRequest } from '../wire/messages.js';
import { HubError } from './errors.js';
import type { MethodHandler } from './hub.js';
import type { ClientInfo, HubLimits } from './options.js';

/** CallOwner is what the table needs from its connection. */
export interface CallOwner extends ClientInfo {
  replyError(id: number, code: HubErrorCode, message: string, retryable?: boolean): void;
  replyFailure(id: number, error: unknown): void;
  replyText(text: string): void;
  callsIdle(): void;
}

interface Call {
  controller: AbortController;
  timer: NodeJS.Timeout;
}

const RESOLVED = Promise.resolve();

export class Calls {
  readonly #owner: CallOwner;
  readonly #calls = new Map<number, Call>();

  constructor(owner: CallOwner) {
    this.#owner = owner;
  }

  /**
   * start runs a handler with a signal that fires at the deadline (min of the caller's
   * `timeoutMs` and the hub's limit), on `cancel`, or when the caller leaves. A call that ended
   * that way sends nothing more, whatever the handler returns later.
   */
  start(message: CallRequest, handler: MethodHandler, limits: Required<HubLimits>): void {
    const owner = this.#owner;
    const id = message.id;
    if (this.#calls.has(id)) {
      owner.replyError(id, HubErrorCode.BadRequest, 'a call with this id is in flight');
      return;
    }
    if (this.#calls.size >= limits.maxCallsInFlight) {
      owner.replyError(id, HubErrorCode.RateLimited, 'too many calls in flight', true);
      this.#idle();
      return;
    }
    const controller = new AbortController();
    const timeout = Math.min(message.timeoutMs ?? limits.callTimeoutMs, limits.callTimeoutMs);
    const timer = setTimeout(() => {
      if (!this.#end(id, controller)) return;
      owner.replyError(id, HubErrorCode.Timeout, `the call ran past ${timeout} ms`, true);
      controller.abort(new HubError(HubErrorCode.Timeout, 'the call timed out'));
    }, timeout);
    this.#calls.set(id, { controller, timer });
    const context = { client: owner as ClientInfo, signal: controller.signal };
    RESOLVED.then(() => handler(message.params, context)).then(
      (result) => {
        if (!this.#end(id, controller)) return;
        let text: string;
        try {
          text = JSON.stringify(
            result === undefined ? { type: 'result', id } : { type: 'result', id, result },
          );
        } catch (error) {
          owner.replyFailure(id, error);
          return;
        }
        owner.replyText(text);
      },
      (error: unknown) => {
        if (this.#end(id, controller)) owner.replyFailure(id, error);
      },
    );
  }

  /** cancel aborts a call (no reply goes out). */
  cancel(id: number, why: string): void {
    const call = this.#calls.get(id);
    if (call && this.#end(id, call.controller)) {
      call.controller.abort(new HubError(HubErrorCode.Cancelled, why));
    }
  }

  /** cancelAll aborts every call (the caller disconnected). */
  cancelAll(why: string): void {
    for (const id of [...this.#calls.keys()]) this.cancel(id, why);
  }

  /** #end removes a call if it is still the one with `controller`; false when it already ended. */
  #end(id: number, controller: AbortController): boolean {
    const call = this.#calls.get(id);
    if (call?.controller !== controller) return false;
    clearTimeout(call.timer);
    this.#calls.delete(id);
    this.#idle();
    return true;
  }

  #idle(): void {
    if (this.#calls.size === 0) this.#owner.callsIdle();
  }
}
