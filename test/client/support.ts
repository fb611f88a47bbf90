/** support: small helpers shared by the HubClient tests. */
import { WebSocket } from 'duplexjs';
import { HubClient, type HubClientOptions, type HubClientState } from 'duplexjs/client';
import { waitFor } from '../helpers/scripted-hub.js';

/** newClient is a HubClient on Duplex's WebSocket with fast reconnects (1 ms backoff ceiling). */
export function newClient<S = unknown>(url: string, options: HubClientOptions = {}): HubClient<S> {
  return new HubClient<S>(url, { WebSocket, backoff: { baseMs: 1, maxMs: 1 }, ...options });
}

/** stateReached resolves when the client enters `state` (now or later). */
export function stateReached(client: HubClient<unknown>, state: HubClientState): Promise<HubClientState> {
  if (client.state === state) return Promise.resolve(state);
  return waitFor<HubClientState>(
    `state ${state}`,
    (callback) => client.on('state', callback),
    (s) => s === state,
  );
}

/** settled turns a promise into its outcome, so a test can check a rejection's fields. */
export async function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** flush lets pending I/O callbacks and microtasks run a few turns. */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
