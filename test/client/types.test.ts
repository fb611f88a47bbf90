// Compile-time tests of HubClient's typing: `npm run build:test` fails when a pinned type
// changes (each @ts-expect-error must still be an error). The functions are never called.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket as DuplexWebSocket } from 'duplexjs';
import {
  HubClient,
  type HubClientError,
  type HubClientState,
  type PresenceMember,
  type Subscription,
} from 'duplexjs/client';

type Chat = {
  channels: {
    'chat:lobby': { text: string };
    [name: `prices:${string}`]: { price: number };
  };
  methods: {
    echo: { params: { a: number }; result: { a: number } };
    now: { params: undefined; result: number };
  };
};

async function typed(client: HubClient<Chat>) {
  await client.publish('chat:lobby', { text: 'hi' });
  await client.publish('prices:ACME', { price: 12.5 });
  // @ts-expect-error: the data does not fit the channel
  await client.publish('chat:lobby', { text: 1 });
  // @ts-expect-error: a channel the schema does not have
  await client.publish('chat:other', { text: 'hi' });

  const sub = client.subscribe('chat:lobby');
  sub.on('message', (data, meta) => {
    const text: string = data.text;
    const offset: number = meta.offset;
    const epoch: string = meta.epoch;
    void [text, offset, epoch];
  });
  // @ts-expect-error: the listener expects another channel's data
  sub.on('message', (data: { price: number }) => void data);
  // @ts-expect-error: no such event
  sub.on('nope', () => {});
  sub.on('subscribed', ({ recovered }) => {
    const r: boolean = recovered;
    void r;
  });
  const off: () => void = sub.on('join', (member) => void member.user);
  off();
  const members: PresenceMember[] = await sub.presence();
  const page = await sub.history({ limit: 50 });
  const first: string | undefined = page.publications[0]?.data.text;
  void [members, first];
  // @ts-expect-error: a channel the schema does not have
  client.subscribe('nope');
  const prices: Subscription<{ price: number }> = client.subscribe('prices:ACME');
  void prices;

  const echoed: { a: number } = await client.call('echo', { a: 1 }, { timeoutMs: 5000 });
  const now: number = await client.call('now');
  void [echoed, now];
  // @ts-expect-error: wrong params
  await client.call('echo', { a: 'x' });
  // @ts-expect-error: params are required when the method's params do not admit undefined
  await client.call('echo');
  // @ts-expect-error: a method the schema does not have
  await client.call('nope', {});
  // @ts-expect-error: the result is not a string
  const wrong: string = await client.call('now');
  void wrong;

  client.on('state', (state) => {
    const s: 'connecting' | 'open' | 'reconnecting' | 'closed' = state;
    void s;
  });
  client.on('error', (error: HubClientError) => void error.code);
  // @ts-expect-error: the state is not a number
  client.on('state', (state: number) => void state);
}

async function untyped(client: HubClient) {
  await client.publish('anything', { any: 'thing' });
  await client.publish('bytes', new Uint8Array([1]));
  const result: unknown = await client.call('whatever', [1, 2]);
  await client.call('no-params');
  const sub = client.subscribe('x');
  sub.on('message', (data) => {
    // @ts-expect-error: data is unknown until narrowed
    void data.foo;
  });
  void result;
}

function validators(client: HubClient) {
  // A schema's parse-style function gives the subscription its type.
  const parsed = client.subscribe('a', { validate: (data) => data as { n: number } });
  parsed.on('message', (data) => {
    const n: number = data.n;
    void n;
  });
  // So does a type guard.
  const isText = (data: unknown): data is string => typeof data === 'string';
  const guarded = client.subscribe('b', { validate: isText });
  guarded.on('message', (data) => {
    const s: string = data;
    void s;
  });
}

function typedValidator(client: HubClient<Chat>) {
  // @ts-expect-error: a validator must produce the channel's type
  client.subscribe('chat:lobby', { validate: (data) => data as { text: number } });
  client.subscribe('chat:lobby', { validate: (data) => data as { text: string } });
}

function transports() {
  // The browser's WebSocket (DOM lib) and Duplex's both fit the WebSocket option.
  const inBrowser = new HubClient('ws://127.0.0.1:8080/hub', { WebSocket: globalThis.WebSocket, token: 't' });
  const inNode = new HubClient('ws://127.0.0.1:8080/hub', {
    WebSocket: DuplexWebSocket,
    token: async () => 't',
  });
  const state: HubClientState = inNode.state;
  void [inBrowser, state];
  // @ts-expect-error: not a WebSocket class
  new HubClient('ws://x', { WebSocket: Date });
}

describe('HubClient types', () => {
  it('compiles (the checks are in the type checker)', () => {
    assert.equal(typeof typed, 'function');
    assert.equal(typeof untyped, 'function');
    assert.equal(typeof validators, 'function');
    assert.equal(typeof typedValidator, 'function');
    assert.equal(typeof transports, 'function');
  });
});
