import {
  deflateFactory,
  type Extension,
  type ExtensionFactory,
  type ExtensionOffer,
  formatExtensionHeader,
  HandshakeError,
  type PerMessageDeflateOptions,
} from '../protocol/index.js';

/**
 * extensionFactories lists the extensions an endpoint negotiates, from its resolved options:
 * permessage-deflate unless `perMessageDeflate` is false. Negotiation below only iterates
 * this list (src/protocol/extension.ts, ExtensionFactory).
 */
export function extensionFactories(perMessageDeflate: PerMessageDeflateOptions | false): ExtensionFactory[] {
  return perMessageDeflate === false ? [] : [deflateFactory(perMessageDeflate)];
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * negotiateExtensions is the server's answer to the client's offers: each factory, in our
 * order, picks among the offers of its extension; an extension whose RSV bits another one
 * already claims is declined. Returns the response header ('' for none) and the Extensions
 * in the order of the response (RFC 6455 9.1: the order in which they apply).
 */
export function negotiateExtensions(
  factories: readonly ExtensionFactory[],
  offers: ExtensionOffer[],
): { header: string; extensions: Extension[] } {
  const responses: ExtensionOffer[] = [];
  const extensions: Extension[] = [];
  let rsv = 0;
  for (const factory of factories) {
    const mine = offers.filter((offer) => sameName(offer.name, factory.name));
    if (mine.length === 0) continue;
    const accepted = factory.accept(mine);
    if (accepted === undefined || (accepted.extension.rsvBits & rsv) !== 0) continue;
    rsv |= accepted.extension.rsvBits;
    responses.push(accepted.response);
    extensions.push(accepted.extension);
  }
  return { header: responses.length > 0 ? formatExtensionHeader(responses) : '', extensions };
}

/** offerExtensions is the client's Sec-WebSocket-Extensions value, undefined when it offers none. */
export function offerExtensions(factories: readonly ExtensionFactory[]): string | undefined {
  const offers = factories.flatMap((factory) => factory.offer());
  return offers.length > 0 ? formatExtensionHeader(offers) : undefined;
}

/**
 * acceptExtensions checks the extensions of a 101 response beyond what
 * validateServerResponse does (which refuses extensions we did not offer): each element
 * goes to its factory, which fails the connection on a response it cannot accept (RFC 7692
 * 5 "the client MUST _Fail the WebSocket Connection_"); an extension named twice, or two
 * claiming the same RSV bits, fail it too. The connection is not established yet, so
 * failing it sends no close frame: the application sees an `error` and a `close` with 1006.
 * (1010 is for a client that required an extension the server did not return, RFC 6455
 * 7.4.1; Duplex never requires one.)
 */
export function acceptExtensions(
  factories: readonly ExtensionFactory[],
  response: ExtensionOffer[],
): Extension[] {
  const refuse = (): never => {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
      `server answered with extensions we cannot use: ${formatExtensionHeader(response)}`,
    );
  };
  const extensions: Extension[] = [];
  const seen = new Set<ExtensionFactory>();
  let rsv = 0;
  for (const element of response) {
    const factory = factories.find((f) => sameName(f.name, element.name));
    if (factory === undefined || seen.has(factory)) refuse();
    seen.add(factory!);
    const extension = factory!.accepted(element);
    if ((extension.rsvBits & rsv) !== 0) refuse();
    rsv |= extension.rsvBits;
    extensions.push(extension);
  }
  return extensions;
}
