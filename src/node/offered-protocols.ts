/**
 * OfferedProtocols is the client's subprotocol offer as `handleProtocols` receives it: a
 * Set in the client's order (ws 8's shape: `protocols.has('chat')`) that also reads as an
 * array (`protocols[0]`, `length`, `includes`, `indexOf`), as Duplex passed it before.
 */
export interface OfferedProtocols extends ReadonlySet<string> {
  readonly length: number;
  readonly [index: number]: string;
  includes(protocol: string): boolean;
  indexOf(protocol: string): number;
}

/** offeredProtocols builds the OfferedProtocols of one handshake. */
export function offeredProtocols(list: readonly string[]): OfferedProtocols {
  const set = new Set(list) as unknown as Set<string> & Record<string | number, unknown>;
  for (let i = 0; i < list.length; i++) Object.defineProperty(set, i, { value: list[i] });
  Object.defineProperties(set, {
    length: { value: list.length },
    includes: { value: (protocol: string) => list.includes(protocol) },
    indexOf: { value: (protocol: string) => list.indexOf(protocol) },
  });
  return set as unknown as OfferedProtocols;
}
