// permessage-deflate between the Duplex server and Chromium's own WebSocket (which offers
// `permessage-deflate; client_max_window_bits` by default): with the server's defaults, and
// with a server that asks for no context takeover and small windows in its response.

import { after, before, describe } from 'node:test';
import type { PerMessageDeflateOptions } from 'duplexjs/protocol';
import { requireSystem } from '../helpers/system.js';
import { chromiumClients } from './chromium-peer.js';
import { DuplexDeflateServer, deflateScenarios, serverWire } from './deflate-scenarios.js';

const cases: Array<{ name: string; server: boolean | PerMessageDeflateOptions; expected: string }> = [
  { name: 'default options', server: true, expected: 'permessage-deflate' },
  {
    name: 'no context takeover and 10-bit windows',
    server: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 10,
    },
    expected:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10',
  },
];

describe('deflate: Duplex server with Chromium', { timeout: 900_000 }, () => {
  const chromium = chromiumClients();

  for (const c of cases) {
    describe(c.name, () => {
      let server: DuplexDeflateServer | undefined;
      before(async () => {
        server = await DuplexDeflateServer.start({ perMessageDeflate: c.server });
      });
      after(() => server?.close());

      deflateScenarios({
        expected: c.expected,
        connect: async (t) => {
          if (!requireSystem(t, 'chromium')) return undefined;
          const peer = await chromium.open(server!.url, []);
          try {
            const { endpoint, socket } = await server!.nextConnection();
            return { duplex: endpoint, peer, wire: serverWire(socket, true) };
          } catch (err) {
            await peer.dispose();
            throw err;
          }
        },
      });
    });
  }
});
