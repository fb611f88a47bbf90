/** EventMap maps each event name to the arguments its listeners get. */
export type EventMap = { [event: string]: unknown[] };

/** Listener is a function called with an event's arguments. */
export type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Emitter holds typed listeners for HubClient and Subscription. `on` returns the function that
 * removes the listener. A listener that throws does not stop the others nor the client's own
 * bookkeeping: its exception is rethrown in a microtask (an uncaught exception, as with DOM
 * event listeners and Duplex's WebSocket).
 */
export class Emitter<E extends EventMap> {
  #listeners = new Map<keyof E, Listener<never>[]>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const list = this.#listeners.get(event) ?? [];
    this.#listeners.set(event, [...list, listener as Listener<never>]);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const now = this.#listeners.get(event) ?? [];
      const index = now.indexOf(listener as Listener<never>);
      if (index >= 0) this.#listeners.set(event, [...now.slice(0, index), ...now.slice(index + 1)]);
    };
  }

  /** emit calls the listeners of `event` present when it starts; true when there was one. */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (list === undefined || list.length === 0) return false;
    for (const listener of list) {
      try {
        (listener as Listener<E[K]>)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return true;
  }

  /** count is the number of listeners of `event`. */
  count(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }
}
