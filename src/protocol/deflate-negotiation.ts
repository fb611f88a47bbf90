import { HandshakeError, InvalidArgumentError } from './errors.js';
import { type ExtensionOffer, formatExtensionHeader } from './extension-header.js';

/** The extension token of RFC 7692 7. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** PerMessageDeflateOptions configures permessage-deflate (RFC 7692) on either side. */
export interface PerMessageDeflateOptions {
  /**
   * Server: ask in every response, client: offer, that the server resets its compression
   * context per message. Saves the client the server-to-client window (up to 32 KiB), and
   * lets a server compress a broadcast once for all recipients. @default false
   */
  serverNoContextTakeover?: boolean;
  /** Same for the client's compression context. @default false */
  clientNoContextTakeover?: boolean;
  /**
   * Largest LZ77 window (8-15, as a base-2 logarithm) for what the server compresses.
   * An outgoing window of 8 means Duplex sends every message uncompressed (zlib cannot
   * deflate with a 256-byte window). @default 15
   */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window (8-15) for what the client compresses. @default 15 */
  clientMaxWindowBits?: number;
  /** Messages with fewer payload bytes than this are sent uncompressed (RSV1 clear). @default 1024 */
  threshold?: number;
  /** zlib compression level 0-9. @default 6 */
  level?: number;
  /** zlib memLevel 1-9: memory zlib uses while compressing one message. @default 8 */
  memLevel?: number;
  /**
   * Send a message uncompressed when compressing it would not pay: bytes that look random
   * (a sampled entropy estimate), or after a compressed message saved less than 1/16, with
   * a probe now and then (docs/design/deflate-skip.md). @default true
   */
  skipIncompressible?: boolean;
  /**
   * Messages from this many bytes on are compressed and inflated on zlib's thread pool
   * instead of the event loop, so that a large message does not stall every other
   * connection (Node binding; the core's synchronous calls ignore it). Incoming messages
   * count their compressed size times 8. 0 sends every message there.
   * @default 262144 (256 KiB)
   */
  asyncThreshold?: number;
}

/** DeflateParams are the parameters both sides agreed on in the handshake. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8-15 */
  serverMaxWindowBits: number;
  /** 8-15 */
  clientMaxWindowBits: number;
}

/** ResolvedDeflateOptions is PerMessageDeflateOptions with every default filled in and checked. */
export type ResolvedDeflateOptions = Required<PerMessageDeflateOptions>;

/** resolveDeflateOptions fills in the defaults once and throws InvalidArgumentError (DUPLEX_INVALID_OPTION) on a value out of range. */
export function resolveDeflateOptions(options: PerMessageDeflateOptions = {}): ResolvedDeflateOptions {
  const int = (name: keyof PerMessageDeflateOptions, fallback: number, min: number, max: number): number => {
    const v = options[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(
        'DUPLEX_INVALID_OPTION',
        `perMessageDeflate.${name} must be an integer from ${min} to ${max}, got ${String(v)}`,
        { option: `perMessageDeflate.${name}` },
      );
    }
    return v;
  };
  return {
    serverNoContextTakeover: options.serverNoContextTakeover === true,
    clientNoContextTakeover: options.clientNoContextTakeover === true,
    serverMaxWindowBits: int('serverMaxWindowBits', 15, 8, 15),
    clientMaxWindowBits: int('clientMaxWindowBits', 15, 8, 15),
    threshold: int('threshold', 1024, 0, Number.MAX_SAFE_INTEGER),
    level: int('level', 6, 0, 9),
    memLevel: int('memLevel', 8, 1, 9),
    skipIncompressible: options.skipIncompressible !== false,
    asyncThreshold: int('asyncThreshold', 256 * 1024, 0, Number.MAX_SAFE_INTEGER),
  };
}

/** The parameters of one offer or response element, each checked for syntax. */
interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (allowed in an offer only). */
  clientMaxWindowBits: number | true | undefined;
}

// RFC 7692 7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * parseParams checks the parameters of a permessage-deflate element and returns them, or
 * the reason they are invalid: a parameter not defined by RFC 7692 7.1, one given twice,
 * a value on a parameter that has none, or a window size that is not 8-15 written without
 * leading zeros. Values arrive unquoted (RFC 6455 9.1 allows quoted-string).
 */
function parseParams(params: ExtensionOffer['params']): ParsedParams | string {
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `parameter ${name} given twice`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // RFC 7692 7.1.1.1 / 7.1.1.2: "This extension parameter has no value."
        if (value !== true) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        // RFC 7692 7.1.2.1: server-max-window-bits = "server_max_window_bits" "=" window-bits
        if (value === true || !WINDOW_BITS.test(value)) return `${name} needs a value from 8 to 15`;
        out.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return `${name} needs a value from 8 to 15`;
        out.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return out;
}

/**
 * offerDeflate is the client's Sec-WebSocket-Extensions value: one permessage-deflate offer.
 * It always carries client_max_window_bits (RFC 7692 7.1.2.2: it tells the server we
 * support the parameter in the response), with our limit as its value when under 15.
 */
export function offerDeflate(options?: PerMessageDeflateOptions): string {
  return formatExtensionHeader([offerElement(resolveDeflateOptions(options))]);
}

function offerElement(o: ResolvedDeflateOptions): ExtensionOffer {
  const params: ExtensionOffer['params'] = [];
  if (o.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (o.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (o.serverMaxWindowBits < 15) params.push(['server_max_window_bits', String(o.serverMaxWindowBits)]);
  params.push(['client_max_window_bits', o.clientMaxWindowBits < 15 ? String(o.clientMaxWindowBits) : true]);
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * negotiateDeflate is the server's side: it picks the first acceptable permessage-deflate
 * offer in the client's order and returns the response element and the agreed parameters,
 * or undefined when none is acceptable. Elements of other extensions are skipped.
 *
 * RFC 7692 5: "A server MUST decline an extension negotiation offer for this extension if
 * any of the following conditions are met: The negotiation offer contains an extension
 * parameter not defined for use in an offer. The negotiation offer contains an extension
 * parameter with an invalid value. The negotiation offer contains multiple extension
 * parameters with the same name. The server doesn't support the offered configuration."
 * Declining an offer is not refusing the handshake: the next offer is tried.
 */
export function negotiateDeflate(
  offers: ExtensionOffer[],
  options?: PerMessageDeflateOptions,
): { response: ExtensionOffer; params: DeflateParams } | undefined {
  const o = resolveDeflateOptions(options);
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const p = parseParams(offer.params);
    if (typeof p === 'string') continue;
    const agreed = answerOffer(p, o);
    if (agreed !== undefined) return agreed;
  }
  return undefined;
}

function answerOffer(
  p: ParsedParams,
  o: ResolvedDeflateOptions,
): { response: ExtensionOffer; params: DeflateParams } | undefined {
  // RFC 7692 7.1.2.2: "If a received extension negotiation offer doesn't have the
  // "client_max_window_bits" extension parameter, the corresponding extension negotiation
  // response to the offer MUST NOT include the "client_max_window_bits" extension
  // parameter." A server that must limit the client's window cannot answer such an offer.
  if (p.clientMaxWindowBits === undefined && o.clientMaxWindowBits < 15) return undefined;
  const params: DeflateParams = {
    // RFC 7692 7.1.1.1: the server accepts server_no_context_takeover by echoing it, and
    // "MAY include" it even when not offered.
    serverNoContextTakeover: p.serverNoContextTakeover || o.serverNoContextTakeover,
    // RFC 7692 7.1.1.2: an offered client_no_context_takeover is a hint; echoing it lets
    // us drop the client's window between messages.
    clientNoContextTakeover: p.clientNoContextTakeover || o.clientNoContextTakeover,
    // RFC 7692 7.1.2.1: accepted "with the same or smaller value as the offer".
    serverMaxWindowBits: Math.min(p.serverMaxWindowBits ?? 15, o.serverMaxWindowBits),
    // RFC 7692 7.1.2.2: a value in the offer is a hint we may use, "equal to or smaller".
    clientMaxWindowBits: Math.min(
      typeof p.clientMaxWindowBits === 'number' ? p.clientMaxWindowBits : 15,
      o.clientMaxWindowBits,
    ),
  };
  const response: ExtensionOffer = { name: PERMESSAGE_DEFLATE, params: [] };
  if (params.serverNoContextTakeover) response.params.push(['server_no_context_takeover', true]);
  if (params.clientNoContextTakeover) response.params.push(['client_no_context_takeover', true]);
  if (p.serverMaxWindowBits !== undefined || params.serverMaxWindowBits < 15) {
    response.params.push(['server_max_window_bits', String(params.serverMaxWindowBits)]);
  }
  if (params.clientMaxWindowBits < 15) {
    response.params.push(['client_max_window_bits', String(params.clientMaxWindowBits)]);
  }
  return { response, params };
}

/**
 * acceptDeflateResponse is the client's side: it checks the server's permessage-deflate
 * response element against the offer `offerDeflate(options)` made and returns the agreed
 * parameters. It throws HandshakeError (DUPLEX_HANDSHAKE_BAD_EXTENSIONS, no status) when
 * RFC 7692 5 says "a client MUST _Fail the WebSocket Connection_": a parameter not defined
 * for a response, an invalid value, a parameter given twice, or a configuration we did not
 * offer.
 */
export function acceptDeflateResponse(
  response: ExtensionOffer,
  options?: PerMessageDeflateOptions,
): DeflateParams {
  const o = resolveDeflateOptions(options);
  const fail = (why: string): never => {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
      `cannot accept the server's permessage-deflate response (${why}): ${formatExtensionHeader([response])}`,
    );
  };
  if (response.name.toLowerCase() !== PERMESSAGE_DEFLATE) fail(`it names ${response.name}`);
  const p = parseParams(response.params);
  if (typeof p === 'string') return fail(p);
  // RFC 7692 7.1.2.2: in a response client_max_window_bits "has a decimal integer value".
  if (p.clientMaxWindowBits === true) fail('client_max_window_bits needs a value from 8 to 15');
  // RFC 7692 7.1.2.2: the server may lower our window, never raise it past what we offered.
  if (typeof p.clientMaxWindowBits === 'number' && p.clientMaxWindowBits > o.clientMaxWindowBits) {
    fail(`client_max_window_bits above the ${o.clientMaxWindowBits} offered`);
  }
  if (o.serverMaxWindowBits < 15) {
    // RFC 7692 7.1.2.1: "A server accepts an extension negotiation offer with this parameter
    // by including the "server_max_window_bits" extension parameter in the extension
    // negotiation response ... with the same or smaller value as the offer."
    if (p.serverMaxWindowBits === undefined) fail('server_max_window_bits offered but not answered');
    if (p.serverMaxWindowBits! > o.serverMaxWindowBits) {
      fail(`server_max_window_bits above the ${o.serverMaxWindowBits} offered`);
    }
  }
  // RFC 7692 7.1.1.1: "A server accepts an extension negotiation offer that includes the
  // "server_no_context_takeover" extension parameter by including [it] in the ... response".
  if (o.serverNoContextTakeover && !p.serverNoContextTakeover) {
    fail('server_no_context_takeover offered but not answered');
  }
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover || o.clientNoContextTakeover,
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(
      typeof p.clientMaxWindowBits === 'number' ? p.clientMaxWindowBits : 15,
      o.clientMaxWindowBits,
    ),
  };
}
