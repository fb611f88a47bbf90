/**
 * Fuzzing the hub protocol `duplex.v1` (docs/protocol.md) over real loopback sockets against a
 * real Hub: every client message type with wrong types, missing fields, unknown types, huge
 * values, deep nesting, lone surrogates, non-JSON, binary frames nobody announced, in random
 * sequences. Each input is answered as docs/protocol.md says: a reply with its id (or, for a
 * request without a valid id, an `error` without one) carrying a documented code, nothing
 * for `pong` and `cancel`, or a close with the documented close code; nothing else ever
 * arrives; the hub keeps serving another client; nothing escapes the library.
 *
 * Inputs are sent one at a time and each reply is awaited (deadline-bounded) before the next,
 * except calls of the `slow` method, whose replies (or not, once cancelled) are checked at the end.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { hubCloseCodes, hubErrorCodes, params } from '../helpers/fuzz.js';
import { type Msg, RawHubClient, startHub, type TestHub, TIMEOUT, until } from '../helpers/hub-client.js';

const ERROR_CODES = hubErrorCodes();
const CLOSE_CODES = hubCloseCodes();
const MAX_MESSAGE_BYTES = 8192;
/** The hub's WebSocket limit: a frame over this closes with 1009 (docs/protocol.md, Errors). */
const FRAME_LIMIT = 4 * MAX_MESSAGE_BYTES;
const CALL_TIMEOUT_MS = 300;
const KNOWN = [
  'connect',
  'refresh',
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'history',
  'call',
  'cancel',
  'pong',
];
const SERVER_TYPES = new Set([
  'connected',
  'refreshed',
  'subscribed',
  'unsubscribed',
  'pub',
  'published',
  'presence',
  'history',
  'result',
  'error',
  'join',
  'leave',
  'ping',
]);

// ---- inputs ------------------------------------------------------------------------------------

/** IdChoice: a fresh unique id, the id of an earlier `slow` call (for cancel), or an invalid value. */
type IdChoice = { fresh: true } | { reuse: number } | { invalid: unknown } | { missing: true };

type Input =
  | { kind: 'json'; fields: Record<string, unknown>; id: IdChoice }
  /** Text that is not a JSON object with a known type. */
  | { kind: 'text'; text: string }
  /** A binary frame nobody announced. */
  | { kind: 'binary'; size: number }
  /** A valid binary publish and its binary frame; or (`follow` false) a text frame where the binary frame was due. */
  | { kind: 'binaryPublish'; channel: string; size: number; follow: boolean };

function deep(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => `a${String.fromCharCode(c)}b`);
const hugeString = fc.constantFrom(MAX_MESSAGE_BYTES + 100, FRAME_LIMIT + 100).map((n) => 'z'.repeat(n));

/** anyValue is a value of any JSON type, sometimes huge or deeply nested. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(33, 100, 3000).map(deep) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53, -0, 1e308, -1, 0.5) },
);

const channel = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'chat:lobby', 'bin', 'deny:x', 'ns:é', 'watch:1') },
  { weight: 2, arbitrary: fc.constantFrom('', 'x'.repeat(257), 'a\nb', 'a\u007fb', 'é'.repeat(129)) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: anyValue },
);

const position = fc.oneof(
  fc.record({ offset: fc.integer({ min: 0, max: 20 }), epoch: fc.constantFrom('e', '', 'x'.repeat(65)) }),
  fc.record({ offset: anyValue, epoch: anyValue }, { requiredKeys: [] }),
  anyValue,
);

/** Fields each type may carry, each with its right type often and anything else sometimes. */
const FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  channel,
  data: anyValue,
  since: position,
  limit: fc.oneof(fc.integer({ min: 0, max: 2000 }), anyValue),
  reverse: fc.oneof(fc.boolean(), anyValue),
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('echo', 'slow', 'boom', 'nope') },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', 'm'.repeat(300)), anyValue) },
  ),
  params: anyValue,
  timeoutMs: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constantFrom(0, -5, 'x', 1e9)),
  token: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('alice', 'bob', 'deny-me', '') },
    { weight: 1, arbitrary: fc.oneof(fc.constant('t'.repeat(20_000)), anyValue) },
  ),
  // A binary publish is its own input; here `binary` is never exactly true.
  binary: fc.constantFrom(false, 1, 'yes', null, 'true'),
  idempotencyKey: fc.oneof(fc.constantFrom('k1', 'k2', 'k'.repeat(129)), anyValue),
  conflationKey: fc.oneof(fc.constantFrom('c'), anyValue),
  name: fc.oneof(fc.constantFrom('fuzz', 'n'.repeat(300)), anyValue),
  version: anyValue,
  extra: anyValue,
};

const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ fresh: true as const }) },
  { weight: 2, arbitrary: fc.nat({ max: 20 }).map((n) => ({ reuse: n })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<unknown>(0, -1, 1.5, '7', null, true, 2 ** 53, [], {})
      .map((invalid) => ({ invalid })),
  },
  { weight: 1, arbitrary: fc.constant({ missing: true as const }) },
);

const typeField = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...KNOWN) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>('explode', '', 'Subscribe', 7, null, ['call'], undefined),
  },
);

const jsonInput: fc.Arbitrary<Input> = fc
  .tuple(typeField, idChoice, fc.subarray(Object.keys(FIELDS), { maxLength: 5 }))
  .chain(([type, id, names]) =>
    fc.tuple(...names.map((n) => FIELDS[n]!)).map((values) => {
      const fields: Record<string, unknown> = {};
      if (type !== undefined) fields.type = type;
      names.forEach((n, i) => {
        fields[n] = values[i];
      });
      return { kind: 'json' as const, fields, id };
    }),
  );

/** Well-formed requests of every type, so that sequences reach deep into the hub. */
const validInput: fc.Arbitrary<Input> = fc.oneof(
  fc.constantFrom('alice', 'bob', undefined).map((token) => ({
    kind: 'json' as const,
    fields: token === undefined ? { type: 'connect' } : { type: 'connect', token },
    id: { fresh: true as const },
  })),
  fc
    .tuple(
      fc.constantFrom('subscribe', 'subscribe', 'subscribe', 'unsubscribe', 'presence', 'history'),
      fc.constantFrom('a', 'chat:lobby', 'bin'),
    )
    .map(([type, ch]) => ({
      kind: 'json' as const,
      fields: { type, channel: ch },
      id: { fresh: true as const },
    })),
  fc.tuple(fc.constantFrom('a', 'chat:lobby', 'deny:x'), fc.jsonValue({ maxDepth: 2 })).map(([ch, data]) => ({
    kind: 'json' as const,
    fields: { type: 'publish', channel: ch, data },
    id: { fresh: true as const },
  })),
  fc.constantFrom('echo', 'slow').map((method) => ({
    kind: 'json' as const,
    fields: { type: 'call', method, params: { n: 1 } },
    id: { fresh: true as const },
  })),
  fc.constant({ kind: 'json' as const, fields: { type: 'pong' }, id: { missing: true as const } }),
);

const textInput: fc.Arbitrary<Input> = fc
  .oneof(
    fc.constantFrom(
      '{"type":"subscribe",',
      '[1,2,3]',
      '"connect"',
      'null',
      '42',
      '',
      ' ',
      '{}',
      '{"type":"connect"}}',
      '{"type":"history","id":@ID,"channel":"a","limit":1e400}',
      '{"type":"subscribe","id":@ID,"channel":"a","since":{"offset":1e400,"epoch":"e"}}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      `{"type":"call","id":@ID,"params":${'{"a":'.repeat(4000)}1${'}'.repeat(4000)}}`,
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  )
  .map((text) => ({ kind: 'text' as const, text }));

const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 20, arbitrary: jsonInput },
  { weight: 16, arbitrary: validInput },
  { weight: 1, arbitrary: textInput },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 100 }).map((size) => ({ kind: 'binary' as const, size })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('binaryPublish' as const),
      channel: fc.constantFrom('bin', 'deny:bin'),
      size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constant(MAX_MESSAGE_BYTES + 1)),
      follow: fc.oneof(
        { weight: 5, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    }),
  },
);

// ---- the model: what docs/protocol.md says each input gets -----------------------------------

/** Expectation: a reply with this id, an `error` without id, nothing, or a close with one of these codes. */
type Expect =
  | { reply: number; closes?: number[] }
  | { idless: string }
  | { none: true }
  | { close: number }
  | { deferred: number };

function isKnownObject(value: unknown): value is Record<string, unknown> & { type: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === 'string' &&
    KNOWN.includes((value as { type: string }).type)
  );
}

function isId(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** expectText is what docs/protocol.md says a text frame gets, given whether `connected` came. */
function expectText(text: string, connected: boolean): Expect {
  if (Buffer.byteLength(text) > FRAME_LIMIT) return { close: 1009 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { close: 1008 };
  }
  // "Malformed JSON, a non-object, an unknown `type` ... close the connection with 1008."
  if (!isKnownObject(value)) return { close: 1008 };
  const big = Buffer.byteLength(text) > MAX_MESSAGE_BYTES;
  // "A message over limits.maxMessageBytes gets DUPLEX_HUB_TOO_LARGE": a `pong` too, without an id.
  if (value.type === 'pong') return big ? { idless: 'DUPLEX_HUB_TOO_LARGE' } : { none: true };
  // "A request fails with an `error` reply with that `id`"; without a valid id there is none to carry.
  if (!isId(value.id)) return { idless: 'DUPLEX_HUB_BAD_REQUEST' };
  const id = value.id as number;
  if (big) return { reply: id };
  // `cancel` "aborts an outstanding call (no reply)"; before `connect` it is refused like any request.
  if (value.type === 'cancel') return connected ? { none: true } : { reply: id };
  if (value.type === 'call' && value.method === 'slow' && connected) return { deferred: id };
  // `authenticate` refuses a `deny` token with 4001.
  if (
    value.type === 'connect' &&
    !connected &&
    typeof value.token === 'string' &&
    value.token.startsWith('deny')
  ) {
    return { reply: id, closes: [4001] };
  }
  return { reply: id };
}

// ---- the run -----------------------------------------------------------------------------------

/** Failures outside the library's documented behaviour, collected for the whole file. */
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);
/** Hub `error` events other than the deliberate `boom` method. */
const hubErrors: unknown[] = [];
/** Coverage counts, printed with FUZZ_STATS=1: replies by type and code, closes by code, inputs sent. */
const stats = new Map<string, number>();
const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);

interface Run {
  client: RawHubClient;
  /** Ids sent whose reply must come exactly once; cancelled slow calls may get none. */
  owed: Map<number, 'once' | 'at-most-once'>;
  idless: number;
  nextId: number;
  slowCalls: number[];
  /** Ids of `slow` calls that a `cancel` named and that cancel got a reply itself (too large): two replies. */
  shared: Set<number>;
}

/** waitSettled waits until `done` holds or the connection closed; false on close. */
async function waitSettled(c: RawHubClient, done: () => boolean, what: string): Promise<boolean> {
  await until(() => done() || c.closeInfo !== undefined, what);
  return done();
}

function replyTo(c: RawHubClient, id: number): Msg | undefined {
  return c.log.find((m) => m.id === id && m.type !== 'pub');
}

function idlessErrors(c: RawHubClient): number {
  return c.log.filter((m) => m.type === 'error' && m.id === undefined).length;
}

/** checkLog asserts that every message received is a documented type, with a documented code. */
function checkLog(c: RawHubClient, sent: Set<number>, shared: Set<number>): void {
  const replies = new Map<number, number>();
  for (const m of c.log) {
    assert.ok(SERVER_TYPES.has(m.type), `undocumented message ${JSON.stringify(m).slice(0, 200)}`);
    if (m.type === 'error') {
      assert.ok(ERROR_CODES.has(m.code), `undocumented error code ${m.code}`);
      assert.equal(typeof m.message, 'string');
    }
    if (m.id !== undefined && m.type !== 'pub') {
      assert.ok(sent.has(m.id), `a reply to id ${m.id}, which was never sent`);
      replies.set(m.id, (replies.get(m.id) ?? 0) + 1);
    }
  }
  for (const [id, n] of replies)
    assert.ok(n === 1 || (n === 2 && shared.has(id)), `id ${id} got ${n} replies`);
}

/** Built is one input as frames to send, and what docs/protocol.md says it gets. */
interface Built {
  frames: Array<string | Buffer>;
  expect: Expect;
  /** The id a `cancel` names (its call may then get no reply). */
  cancels: number | undefined;
}

/** build turns an input into frames, assigning ids; `connected` says whether `connected` came. */
function build(run: Run, item: Input, sent: Set<number>, connected: boolean): Built {
  if (item.kind === 'binary') {
    return { frames: [Buffer.alloc(item.size, 7)], expect: { close: 1008 }, cancels: undefined };
  }
  let text: string;
  let cancels: number | undefined;
  if (item.kind === 'text') {
    // Templates take a fresh id, so that a reply to them is told apart.
    text = item.text.includes('@ID') ? item.text.replaceAll('@ID', String(run.nextId++)) : item.text;
  } else if (item.kind === 'binaryPublish') {
    const id = run.nextId++;
    text = JSON.stringify({ type: 'publish', id, channel: item.channel, binary: true });
    sent.add(id);
  } else {
    const fields: Record<string, unknown> = { ...item.fields };
    const choice = item.id;
    // Only `cancel` reuses an id (of a `slow` call): ids are unique among outstanding requests.
    const reuse = 'reuse' in choice && fields.type === 'cancel' && connected && run.slowCalls.length > 0;
    if ('fresh' in choice || ('reuse' in choice && !reuse)) {
      fields.id = run.nextId++;
    } else if ('reuse' in choice) {
      fields.id = run.slowCalls[choice.reuse % run.slowCalls.length];
    } else if ('invalid' in choice) {
      fields.id = choice.invalid;
    }
    text = JSON.stringify(fields);
    if (isId(fields.id)) sent.add(fields.id as number);
    if (fields.type === 'cancel' && isId(fields.id)) cancels = fields.id as number;
  }
  const expect = expectText(text, connected);
  if (cancels !== undefined && 'reply' in expect) run.shared.add(cancels);
  if ('reply' in expect) sent.add(expect.reply);
  if ('deferred' in expect) sent.add(expect.deferred);
  if (item.kind !== 'binaryPublish') return { frames: [text], expect, cancels };
  // "Nothing may come between the two": a text frame instead of the binary one closes with 1008.
  if (!item.follow) return { frames: [text, '{"type":"pong"}'], expect: { close: 1008 }, cancels };
  return { frames: [text, Buffer.alloc(item.size, 9)], expect, cancels };
}

async function send(
  run: Run,
  item: Input,
  sent: Set<number>,
  connected: () => boolean,
): Promise<'open' | 'closed'> {
  const c = run.client;
  const { frames, expect, cancels } = build(run, item, sent, connected());
  for (const frame of frames) c.send(frame);
  if ('close' in expect) {
    const { code } = await c.closed;
    assert.equal(code, expect.close, `close code after ${show(item)}`);
    return 'closed';
  }
  if ('none' in expect) {
    if (cancels !== undefined && run.owed.get(cancels) === 'once') run.owed.set(cancels, 'at-most-once');
    return c.closeInfo === undefined ? 'open' : 'closed';
  }
  if ('deferred' in expect) {
    run.owed.set(expect.deferred, 'once');
    run.slowCalls.push(expect.deferred);
    return 'open';
  }
  if ('idless' in expect) {
    run.idless++;
    const got = await waitSettled(c, () => idlessErrors(c) >= run.idless, `error for ${show(item)}`);
    assert.ok(got, `closed (${JSON.stringify(c.closeInfo)}) instead of an error for ${show(item)}`);
    const last = c.log.filter((m) => m.type === 'error' && m.id === undefined).at(-1)!;
    assert.equal(last.code, expect.idless, `error for ${show(item)}`);
    return 'open';
  }
  run.owed.set(expect.reply, 'once');
  const got = await waitSettled(c, () => replyTo(c, expect.reply) !== undefined, `reply to ${show(item)}`);
  if (!got) {
    const code = c.closeInfo!.code;
    assert.ok(expect.closes?.includes(code), `closed with ${code} instead of a reply to ${show(item)}`);
    run.owed.delete(expect.reply);
    return 'closed';
  }
  const reply = replyTo(c, expect.reply)!;
  if (!connected() && !(item.kind === 'json' && item.fields.type === 'connect')) {
    // Refused before connect; a malformed or oversized request is refused for that first.
    assert.ok(
      ['DUPLEX_HUB_NOT_CONNECTED', 'DUPLEX_HUB_BAD_REQUEST', 'DUPLEX_HUB_TOO_LARGE'].includes(reply.code),
      `before connect: ${show(item)} got ${JSON.stringify(reply)}`,
    );
  }
  return 'open';
}

function show(item: Input): string {
  const s =
    item.kind === 'json'
      ? JSON.stringify(item.fields)
      : item.kind === 'text'
        ? JSON.stringify(item.text)
        : JSON.stringify(item);
  return `${item.kind} ${s.length > 300 ? `${s.slice(0, 300)}...` : s}`;
}

describe('fuzz: the hub protocol duplex.v1 over loopback (docs/protocol.md)', () => {
  let t: TestHub;
  let observer: RawHubClient;
  let round = 0;

  before(async () => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
    t = await startHub({
      authenticate: ({ token }) =>
        token === undefined
          ? { user: '' }
          : token.startsWith('deny')
            ? false
            : { user: token.slice(0, 12), info: { n: token.length } },
      authorize: (_client, _action, ch) => !ch.startsWith('deny'),
      limits: {
        maxMessageBytes: MAX_MESSAGE_BYTES,
        messagesPerSecond: 1_000_000,
        messageBurst: 1_000_000,
        callTimeoutMs: CALL_TIMEOUT_MS,
        maxSubscriptions: 4,
        maxHistoryLimit: 20,
        maxCallsInFlight: 3,
      },
      channels: { '*': { history: { size: 10, ttlMs: 60_000 } } },
    });
    t.hub.on('error', (error) => {
      if (!(error instanceof Error && error.message === 'boom')) hubErrors.push(error);
    });
    t.hub.method('echo', (p) => p);
    t.hub.method('boom', () => {
      throw new Error('boom');
    });
    t.hub.method(
      'slow',
      (_p, { signal }) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    observer = await t.connect('observer');
    await observer.subscribe('watch:1');
  });

  after(async () => {
    if (process.env.FUZZ_STATS) console.error(Object.fromEntries([...stats].sort()));
    await t.stop();
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  });

  afterEach(() => {
    assert.deepEqual(escaped, [], 'an exception escaped the library');
    assert.deepEqual(hubErrors, [], 'the hub reported an unexpected error');
  });

  it('every input gets its documented answer, and the hub keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 25 }), fc.nat(9), async (rest, n) => {
        // Most sequences start connected, to reach what only a connected client can do.
        const inputs: Input[] =
          n < 8
            ? [
                {
                  kind: 'json',
                  fields: { type: 'connect', token: n < 4 ? 'alice' : 'bob' },
                  id: { fresh: true },
                },
                ...rest,
              ]
            : rest;
        const client = await RawHubClient.open(t.url);
        const run: Run = { client, owed: new Map(), idless: 0, nextId: 1, slowCalls: [], shared: new Set() };
        const sent = new Set<number>();
        const connected = () => client.log.some((m) => m.type === 'connected');
        try {
          let state: 'open' | 'closed' = 'open';
          for (const item of inputs) {
            count(`sent ${item.kind}${connected() ? ' connected' : ''}`);
            state = await send(run, item, sent, connected);
            if (state === 'closed') break;
          }
          if (state === 'open') {
            // A last request flushes everything: its reply comes after every earlier one.
            const id = run.nextId++;
            sent.add(id);
            client.send({ type: 'presence', id, channel: 'a' });
            run.owed.set(id, 'once');
            // Slow calls end by their deadline (or were cancelled).
            await waitSettled(
              client,
              () =>
                [...run.owed].every(
                  ([owed, how]) => how === 'at-most-once' || replyTo(client, owed) !== undefined,
                ),
              'every owed reply',
            );
            if (client.closeInfo === undefined) {
              for (const [owed, how] of run.owed) {
                if (how === 'once') assert.ok(replyTo(client, owed), `no reply to id ${owed}`);
              }
              assert.equal(idlessErrors(client), run.idless, 'errors without id');
            }
          }
          if (client.closeInfo !== undefined) {
            assert.ok(
              CLOSE_CODES.has(client.closeInfo.code),
              `undocumented close code ${client.closeInfo.code}`,
            );
          }
          checkLog(client, sent, run.shared);
          for (const m of client.log) count(m.type === 'error' ? `error ${m.code}` : m.type);
          count(`close ${client.closeInfo?.code ?? 'none'}`);
          assert.ok(
            !client.log.some((m) => m.type === '<unannounced binary>'),
            'a binary frame nobody announced',
          );
        } finally {
          client.ws.terminate();
          await client.closed;
        }
        await stillServing();
      }),
      params(20),
    );
  });

  /** stillServing checks that the hub still serves the observer, and that nothing escaped. */
  async function stillServing(): Promise<void> {
    round++;
    await t.hub.publish('watch:1', { round });
    await observer.waitFor(
      (m) => m.type === 'pub' && m.data?.round === round,
      `observer pub ${round}`,
      TIMEOUT,
    );
    const echo = await observer.request({ type: 'call', method: 'echo', params: round });
    assert.equal(echo.result, round);
    assert.deepEqual(escaped, [], 'an exception escaped the library');
    assert.deepEqual(hubErrors, [], 'the hub reported an unexpected error');
  }

  it('pipelined without waiting: every request is answered exactly once, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 40 }), async (rest) => {
        const client = await RawHubClient.open(t.url);
        const run: Run = { client, owed: new Map(), idless: 0, nextId: 1, slowCalls: [], shared: new Set() };
        const sent = new Set<number>();
        const first: Input = {
          kind: 'json',
          fields: { type: 'connect', token: 'carol' },
          id: { fresh: true },
        };
        try {
          for (const [i, item] of [first, ...rest].entries()) {
            // After the first `connect`, the hub treats every request as connected (queued behind it).
            const built = build(run, item, sent, i > 0);
            const { expect, cancels } = built;
            // Inputs that close the connection end the test early; here every input must be answered.
            if ('close' in expect) continue;
            if ('reply' in expect) run.owed.set(expect.reply, 'once');
            if ('deferred' in expect) {
              run.owed.set(expect.deferred, 'once');
              run.slowCalls.push(expect.deferred);
            }
            if ('idless' in expect) run.idless++;
            if (cancels !== undefined && run.owed.get(cancels) === 'once')
              run.owed.set(cancels, 'at-most-once');
            for (const frame of built.frames) client.send(frame);
          }
          await waitSettled(
            client,
            () =>
              [...run.owed].every(
                ([id, how]) => how === 'at-most-once' || replyTo(client, id) !== undefined,
              ) && idlessErrors(client) >= run.idless,
            'every reply',
          );
          assert.equal(client.closeInfo, undefined, 'the connection stays open');
          assert.equal(idlessErrors(client), run.idless, 'errors without id');
          checkLog(client, sent, run.shared);
          for (const m of client.log) count(`pipelined ${m.type === 'error' ? `error ${m.code}` : m.type}`);
        } finally {
          client.ws.terminate();
          await client.closed;
        }
        await stillServing();
      }),
      params(15),
    );
  });
});
