import { HandshakeError } from './errors.js';

/** ExtensionOffer is one element of a Sec-WebSocket-Extensions header: a name and its parameters in order. */
export interface ExtensionOffer {
  /** The extension token, lower-cased. */
  name: string;
  /** Parameters in order, names lower-cased; `true` for a parameter without a value. Repeats are kept for the extension to judge. */
  params: Array<[name: string, value: string | true]>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * parseExtensionHeader parses Sec-WebSocket-Extensions by the grammar of RFC 6455 9.1:
 *
 *     extension-list = 1#extension
 *     extension = extension-token *( ";" extension-param )
 *     extension-param = token [ "=" (token | quoted-string) ]
 *
 * "When using the quoted-string syntax variant, the value after quoted-string unescaping
 * MUST conform to the 'token' ABNF." Several header lines are one list. Throws a
 * HandshakeError (DUPLEX_HANDSHAKE_BAD_EXTENSIONS, 400) naming the position on a syntax
 * error; an absent header gives [].
 */
export function parseExtensionHeader(value: string | string[] | undefined): ExtensionOffer[] {
  // No header (most clients but browsers): no parser closures to make for every handshake.
  if (value === undefined || value === '') return [];
  const text = Array.isArray(value) ? value.join(',') : value;
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = text.length;
  const fail = (what: string): never => {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
      `invalid Sec-WebSocket-Extensions: ${what} at position ${i}`,
      { status: 400 },
    );
  };
  const skipSpace = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(text[i]!)) i++;
    if (i === start) fail('expected a token');
    return text.slice(start, i);
  };
  const quoted = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= n) fail('unterminated quoted string');
      const c = text[i]!;
      if (c === '"') {
        i++;
        break;
      }
      if (c === '\\') {
        i++;
        if (i >= n) fail('unterminated quoted string');
      }
      out += text[i];
      i++;
    }
    if (!TOKEN.test(out)) fail('quoted value is not a token');
    return out;
  };

  skipSpace();
  if (i === n) return offers;
  for (;;) {
    // Empty list elements (", ,") are allowed by the #rule of RFC 7230 7.
    skipSpace();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (i === n) break;
    const offer: ExtensionOffer = { name: token().toLowerCase(), params: [] };
    skipSpace();
    while (text[i] === ';') {
      i++;
      skipSpace();
      const name = token().toLowerCase();
      skipSpace();
      let paramValue: string | true = true;
      if (text[i] === '=') {
        i++;
        skipSpace();
        paramValue = text[i] === '"' ? quoted() : token();
        skipSpace();
      }
      offer.params.push([name, paramValue]);
    }
    offers.push(offer);
    if (i === n) break;
    if (text[i] !== ',') fail('expected "," or ";"');
    i++;
  }
  return offers;
}

/** formatExtensionHeader writes offers back as a Sec-WebSocket-Extensions value. */
export function formatExtensionHeader(offers: ExtensionOffer[]): string {
  return offers
    .map((o) =>
      [o.name, ...o.params.map(([k, v]) => (v === true ? k : `${k}=${TOKEN.test(v) ? v : `"${v}"`}`))].join(
        '; ',
      ),
    )
    .join(', ');
}
