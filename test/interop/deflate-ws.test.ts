// permessage-deflate between Duplex and the `ws` npm package, both directions: the Duplex
// server with ws clients (default offer, and no context takeover with 10-bit windows), a
// Duplex server that limits the windows itself, and the Duplex client with ws servers.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe } from 'node:test';
import type { PerMessageDeflateOptions } from 'duplexjs/protocol';
import type { PerMessageDeflateOptions as WsDeflateOptions } from 'ws';
import { DuplexDeflateServer, deflateScenarios, serverWire } from './deflate-scenarios.js';
import { openDuplexClient } from './duplex-peer.js';
import { withTimeout } from './endpoint.js';
import { openWsClient, WsPeerServer } from './ws-peer.js';

const SMALL_WS: WsDeflateOptions = {
  clientNoContextTakeover: true,
  serverNoContextTakeover: true,
  serverMaxWindowBits: 10,
  clientMaxWindowBits: 10,
};
const SMALL_HEADER =
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10';

const serverCases: Array<{
  name: string;
  server: boolean | PerMessageDeflateOptions;
  client: boolean | WsDeflateOptions;
  expected: string;
}> = [
  { name: 'ws client perMessageDeflate: true', server: true, client: true, expected: 'permessage-deflate' },
  {
    name: 'ws client with no context takeover and 10-bit windows',
    server: true,
    client: SMALL_WS,
    expected: SMALL_HEADER,
  },
  {
    name: 'a Duplex server limiting windows to 9 bits without server takeover, ws client true',
    server: { serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true },
    client: true,
    expected:
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
  },
];

for (const c of serverCases) {
  describe(`deflate: Duplex server with the ${c.name}`, { timeout: 600_000 }, () => {
    let server: DuplexDeflateServer | undefined;
    before(async () => {
      server = await DuplexDeflateServer.start({ perMessageDeflate: c.server });
    });
    after(() => server?.close());
    deflateScenarios({
      expected: c.expected,
      connect: async () => {
        const peer = await openWsClient(server!.url, [], undefined, { perMessageDeflate: c.client });
        const { endpoint, socket } = await server!.nextConnection();
        return { duplex: endpoint, peer, wire: serverWire(socket, true) };
      },
    });
  });
}

const clientCases: Array<{
  name: string;
  server: boolean | WsDeflateOptions;
  client: boolean | PerMessageDeflateOptions;
  expected: string;
}> = [
  { name: 'a ws server perMessageDeflate: true', server: true, client: true, expected: 'permessage-deflate' },
  {
    name: 'a ws server with no context takeover and 10-bit windows',
    server: SMALL_WS,
    client: true,
    expected: SMALL_HEADER,
  },
  {
    name: 'a ws server true, the Duplex client offering no context takeover and 10-bit windows',
    server: true,
    client: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 10,
    },
    expected: SMALL_HEADER,
  },
];

for (const c of clientCases) {
  describe(`deflate: Duplex client with ${c.name}`, { timeout: 600_000 }, () => {
    let http: Server | undefined;
    let ws: WsPeerServer | undefined;
    let url = '';
    before(async () => {
      http = createServer();
      ws = new WsPeerServer(http, c.server);
      await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
      url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/deflate`;
    });
    after(async () => {
      await ws?.close();
      http?.closeAllConnections();
      await withTimeout(new Promise<void>((resolve) => http!.close(() => resolve())), 10_000, 'http close');
    });
    deflateScenarios({
      expected: c.expected,
      connect: async () => {
        const duplex = await openDuplexClient(url, [], undefined, { perMessageDeflate: c.client });
        const { endpoint, socket } = await ws!.nextConnection();
        return { duplex, peer: endpoint, wire: serverWire(socket, false) };
      },
    });
  });
}
