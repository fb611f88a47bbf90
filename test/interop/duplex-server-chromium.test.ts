// Duplex server with Chromium's own WebSocket (Debian's chromium driven by playwright-core), over
// ws:// and wss://. The agent page comes from another loopback origin, which the Duplex server
// lists in allowedOrigins.

import { after, before, describe } from 'node:test';
import { requireSystem } from '../helpers/system.js';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { chromiumClients } from './chromium-peer.js';
import { DuplexServerFixture } from './duplex-peer.js';
import { OFFERED_PROTOCOLS } from './payloads.js';
import { interopScenarios, serverShutdownScenario } from './scenarios.js';

describe('Duplex server with Chromium', { timeout: 900_000 }, () => {
  const chromium = chromiumClients();

  for (const secure of [false, true]) {
    describe(`over ${secure ? 'wss' : 'ws'}://`, () => {
      let server: DuplexServerFixture | undefined;
      const fixtureOptions = async () => ({
        tls: secure ? await makeSelfSignedCert() : undefined,
        allowedOrigins: [chromium.pageOrigin()],
      });

      before(async () => {
        server = await DuplexServerFixture.start(await fixtureOptions());
      });
      after(() => server?.close());

      interopScenarios({
        peerCanPing: false,
        connect: async (t) => {
          if (!requireSystem(t, 'chromium')) return undefined;
          const peer = await chromium.open(server!.url, OFFERED_PROTOCOLS, { ignoreHTTPSErrors: secure });
          try {
            const { endpoint, offered } = await server!.nextConnection();
            return { duplex: endpoint, peer, offeredSeenByServer: offered };
          } catch (err) {
            await peer.dispose();
            throw err;
          }
        },
      });

      serverShutdownScenario(fixtureOptions, async (t, url) => {
        if (!requireSystem(t, 'chromium')) return undefined;
        return chromium.open(url, OFFERED_PROTOCOLS, { ignoreHTTPSErrors: secure });
      });
    });
  }
});
