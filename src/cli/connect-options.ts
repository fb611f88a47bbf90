import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseInteger, parseNumber, targetUrl, UsageError } from './usage-error.js';

/** InputEncoding says how `-x` messages and input lines become messages. */
export type InputEncoding = 'text' | 'hex' | 'base64';

/** ConnectAction is one thing to send right after the connection opened, in command-line order. */
export type ConnectAction =
  | { kind: 'text'; data: string }
  | { kind: 'binary'; data: Buffer; from: string }
  | { kind: 'ping'; data: Buffer };

/** ConnectOptions are the flags of `duplex connect`, each with its default resolved. */
export interface ConnectOptions {
  url: URL;
  headers: Record<string, string>;
  protocols: string[];
  /** Messages (-x, --file) and pings (--ping) to send at once; when any, stdin is not read. */
  actions: ConnectAction[];
  deflate: boolean;
  input: InputEncoding;
  origin: string | undefined;
  /** PEM texts of the --ca files. */
  ca: string[];
  /** --insecure: the server's certificate is not checked at all. */
  insecure: boolean;
  json: boolean;
  timestamps: boolean;
  showPingPong: boolean;
  slash: boolean;
  reconnect: boolean;
  /** Retries after a failed or lost connection with --reconnect. @default unlimited */
  maxRetries: number;
  /** Seconds without traffic after the last message sent before closing (-x and piped input). @default 2 */
  waitS: number;
  /** @default 10 s */
  handshakeTimeoutS: number;
}

export const CONNECT_USAGE = `usage: duplex connect URL [options]

  Opens a WebSocket and prints every message received on its own line of stdout (binary as
  "[binary] HEX"). Each line of stdin is sent as a text message; a terminal gets a line editor
  with history. Status lines go to stderr.

  -H, --header 'Name: value'   extra request header (repeatable)
  -s, --subprotocol P          offer subprotocol P (repeatable, in order of preference)
  -x, --execute MESSAGE        send MESSAGE, print the answers until the peer closes or --wait
                               seconds pass without traffic, close with 1000 (repeatable)
  -f, --file PATH              send the content of PATH as one binary message (repeatable,
                               in order with -x)
      --ping DATA              send a ping with DATA ('' for none) (in order with -x)
      --binary                 -x messages and input lines are hex, sent as binary messages
      --base64                 -x messages and input lines are base64, sent as binary messages
      --no-deflate             do not offer permessage-deflate
      --origin ORIGIN          send an Origin header
      --ca FILE                trust this PEM CA for wss: (repeatable)
      --insecure               DANGER: do not check the server's TLS certificate at all
      --json                   pretty-print text messages that are JSON
  -t, --timestamps             prefix each printed message with the time received
  -P, --show-ping-pong         print pings and pongs received
      --slash                  interactive commands: /ping [TEXT], /close [CODE [REASON]],
                               /binary HEX, /base64 DATA, /file PATH (// sends a leading /)
      --reconnect              reconnect with exponential backoff when the connection fails
                               or the peer closes it
      --max-retries N          give up after N retries in a row (default: never)
  -w, --wait SECONDS           idle time before closing after -x or piped input (default 2)
      --handshake-timeout S    TCP + TLS + HTTP upgrade time limit (default 10)

  Proxies: http_proxy/HTTP_PROXY (ws:), https_proxy/HTTPS_PROXY (wss:), no_proxy/NO_PROXY;
  the tunnel is an HTTP CONNECT, with Basic authorization from the proxy URL's user:password.

  Exit status: 0 after a clean close (1000, 1001 or no code), 1 when the connection or its
  handshake failed, 2 on a usage error, 3 when the connection was lost without a clean
  close (1006, a protocol error), 4 when the peer closed with an error code (1002-1015,
  3000-4999; the code and reason are on stderr).
`;

const FLAGS = {
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', short: 's', multiple: true },
  execute: { type: 'string', short: 'x', multiple: true },
  file: { type: 'string', short: 'f', multiple: true },
  ping: { type: 'string', multiple: true },
  binary: { type: 'boolean' },
  base64: { type: 'boolean' },
  'no-deflate': { type: 'boolean' },
  origin: { type: 'string' },
  ca: { type: 'string', multiple: true },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  timestamps: { type: 'boolean', short: 't' },
  'show-ping-pong': { type: 'boolean', short: 'P' },
  slash: { type: 'boolean' },
  reconnect: { type: 'boolean' },
  'max-retries': { type: 'string' },
  wait: { type: 'string', short: 'w' },
  'handshake-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** decodeInput turns one input line into a message payload: text as is, hex or base64 as bytes. */
export function decodeInput(line: string, input: InputEncoding): string | Buffer {
  if (input === 'text') return line;
  const compact = line.replace(/\s+/g, '');
  if (input === 'hex') {
    if (!/^([0-9a-fA-F]{2})*$/.test(compact)) throw new Error(`not hex: ${JSON.stringify(line)}`);
    return Buffer.from(compact, 'hex');
  }
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) {
    throw new Error(`not base64: ${JSON.stringify(line)}`);
  }
  return Buffer.from(compact, 'base64');
}

/** parseHeader reads one `-H 'Name: value'`. */
function parseHeader(raw: string): [string, string] {
  const colon = raw.indexOf(':');
  const name = colon > 0 ? raw.slice(0, colon).trim() : '';
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new UsageError(`-H takes 'Name: value', got ${JSON.stringify(raw)}`);
  }
  return [name, raw.slice(colon + 1).trim()];
}

function readFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: ${(error as Error).message}`);
  }
}

/**
 * parseConnectOptions reads the command line after `duplex connect`. Returns undefined for
 * --help; throws UsageError on anything wrong (unknown flags, a bad URL, unreadable files).
 */
export function parseConnectOptions(argv: string[]): ConnectOptions | undefined {
  const parse = () => {
    try {
      return parseArgs({ args: argv, options: FLAGS, tokens: true, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  const { values, positionals, tokens } = parse();
  if (values.help) return undefined;
  const url = targetUrl('connect', positionals);
  if (values.binary && values.base64) throw new UsageError('--binary and --base64 exclude each other');
  const input: InputEncoding = values.binary ? 'hex' : values.base64 ? 'base64' : 'text';
  const actions: ConnectAction[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    if (token.name === 'execute') {
      try {
        const data = decodeInput(token.value, input);
        actions.push(
          typeof data === 'string' ? { kind: 'text', data } : { kind: 'binary', data, from: token.value },
        );
      } catch (error) {
        throw new UsageError(`-x: ${(error as Error).message}`);
      }
    } else if (token.name === 'file') {
      actions.push({ kind: 'binary', data: readFile('--file', token.value), from: token.value });
    } else if (token.name === 'ping') {
      const data = Buffer.from(token.value);
      if (data.length > 125) throw new UsageError('--ping: a ping carries at most 125 bytes');
      actions.push({ kind: 'ping', data });
    }
  }
  const headers: Record<string, string> = {};
  for (const raw of values.header ?? []) {
    const [name, value] = parseHeader(raw);
    headers[name] = value;
  }
  return {
    url,
    headers,
    protocols: values.subprotocol ?? [],
    actions,
    deflate: values['no-deflate'] !== true,
    input,
    origin: values.origin,
    ca: (values.ca ?? []).map((path) => readFile('--ca', path).toString('utf8')),
    insecure: values.insecure === true,
    json: values.json === true,
    timestamps: values.timestamps === true,
    showPingPong: values['show-ping-pong'] === true,
    slash: values.slash === true,
    reconnect: values.reconnect === true,
    maxRetries:
      values['max-retries'] === undefined
        ? Number.POSITIVE_INFINITY
        : parseInteger('--max-retries', values['max-retries'], 0, 1_000_000),
    waitS: values.wait === undefined ? 2 : parseNumber('--wait', values.wait, 0, 86_400),
    handshakeTimeoutS:
      values['handshake-timeout'] === undefined
        ? 10
        : parseNumber('--handshake-timeout', values['handshake-timeout'], 0.001, 3_600),
  };
}
