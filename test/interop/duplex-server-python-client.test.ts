// Duplex server with Debian's python3-websockets client, over ws:// and wss://.

import { after, before, describe } from 'node:test';
import { hasSystem, requireSystem } from '../helpers/system.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';
import { DuplexServerFixture } from './duplex-peer.js';
import { OFFERED_PROTOCOLS } from './payloads.js';
import { type PemFiles, startPythonClient, writePemFiles } from './python-peer.js';
import { interopScenarios, serverShutdownScenario } from './scenarios.js';

for (const secure of [false, true]) {
  describe(`Duplex server with the python-websockets client over ${secure ? 'wss' : 'ws'}://`, {
    timeout: 600_000,
  }, () => {
    let server: DuplexServerFixture | undefined;
    let ca: PemFiles | undefined;
    let cert: SelfSignedCert | undefined;

    before(async () => {
      cert = secure ? await makeSelfSignedCert() : undefined;
      if (cert && hasSystem('python3-websockets')) ca = await writePemFiles({ ca: cert.cert });
      server = await DuplexServerFixture.start({ tls: cert });
    });
    after(async () => {
      await server?.close();
      await ca?.remove();
    });

    interopScenarios({
      peerCanPing: true,
      connect: async (t) => {
        if (!requireSystem(t, 'python3-websockets')) return undefined;
        const { endpoint: peer } = await startPythonClient(server!.url, OFFERED_PROTOCOLS, ca?.paths['ca']);
        try {
          const { endpoint, offered } = await server!.nextConnection();
          return { duplex: endpoint, peer, offeredSeenByServer: offered };
        } catch (err) {
          await peer.dispose();
          throw err;
        }
      },
    });

    serverShutdownScenario(
      async () => ({ tls: cert }),
      async (t, url) => {
        if (!requireSystem(t, 'python3-websockets')) return undefined;
        return (await startPythonClient(url, OFFERED_PROTOCOLS, ca?.paths['ca'])).endpoint;
      },
    );
  });
}
