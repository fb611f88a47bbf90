// Duplex server with the `ws` npm client: attached to an http server (ws://) and to an https
// server (wss://), and standalone (ws://).

import { after, before, describe } from 'node:test';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';
import { DuplexServerFixture } from './duplex-peer.js';
import { OFFERED_PROTOCOLS } from './payloads.js';
import { interopScenarios, serverShutdownScenario } from './scenarios.js';
import { openWsClient } from './ws-peer.js';

const variants = [
  { secure: false, standalone: false },
  { secure: true, standalone: false },
  { secure: false, standalone: true },
];

for (const { secure, standalone } of variants) {
  const how = `${standalone ? 'a standalone' : 'an attached'} Duplex server`;
  describe(`${how} with the ws client over ${secure ? 'wss' : 'ws'}://`, { timeout: 600_000 }, () => {
    let server: DuplexServerFixture | undefined;
    let cert: SelfSignedCert | undefined;

    before(async () => {
      cert = secure ? await makeSelfSignedCert() : undefined;
      server = await DuplexServerFixture.start({ tls: cert, standalone });
    });
    after(() => server?.close());

    interopScenarios({
      peerCanPing: true,
      connect: async () => {
        const peer = await openWsClient(server!.url, OFFERED_PROTOCOLS, cert?.cert);
        const { endpoint, offered } = await server!.nextConnection();
        return { duplex: endpoint, peer, offeredSeenByServer: offered };
      },
    });

    serverShutdownScenario(
      async () => ({ tls: cert, standalone }),
      (_t, url) => openWsClient(url, OFFERED_PROTOCOLS, cert?.cert),
    );
  });
}
