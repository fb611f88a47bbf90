/**
 * Typing of channels and methods. A schema is a type, never a value:
 *
 * ```ts
 * type Chat = {
 *   channels: { 'chat:lobby': { text: string }; [name: `prices:${string}`]: { price: number } };
 *   methods: { echo: { params: { a: number }; result: { a: number } } };
 * };
 * const client = new HubClient<Chat>(url);
 * ```
 * Without a schema every channel name and method is allowed and data is `unknown`. The types
 * are compile-time only: pass `validate` to `subscribe` to check data at run time.
 */

/** MethodSpec is one RPC method's types. */
export interface MethodSpec {
  params: unknown;
  result: unknown;
}

/** HubSchema is the shape of a schema; both parts are optional. */
export interface HubSchema {
  channels?: Record<string, unknown>;
  methods?: Record<string, MethodSpec>;
}

/** ChannelsOf is a schema's channel map (every name with `unknown` data when it has none). */
export type ChannelsOf<S> = S extends { channels: infer C } ? C : Record<string, unknown>;
/** MethodsOf is a schema's method map (every name with `unknown` params and result when it has none). */
export type MethodsOf<S> = S extends { methods: infer M } ? M : Record<string, MethodSpec>;

/** ChannelName is a channel the schema allows (template literal keys match patterns). */
export type ChannelName<S> = keyof ChannelsOf<S> & string;
/** ChannelData is what a channel carries. */
export type ChannelData<S, C extends string> = C extends keyof ChannelsOf<S> ? ChannelsOf<S>[C] : never;

/** MethodName is a method the schema allows. */
export type MethodName<S> = keyof MethodsOf<S> & string;
/** MethodParams are a method's params. */
export type MethodParams<S, M extends string> = M extends keyof MethodsOf<S>
  ? MethodsOf<S>[M] extends { params: infer P }
    ? P
    : unknown
  : never;
/** MethodResult is what a method resolves with. */
export type MethodResult<S, M extends string> = M extends keyof MethodsOf<S>
  ? MethodsOf<S>[M] extends { result: infer R }
    ? R
    : unknown
  : never;
