// Duplex client with a `ws` npm server, over ws:// and wss://.

import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe } from 'node:test';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';
import { openDuplexClient } from './duplex-peer.js';
import { withTimeout } from './endpoint.js';
import { OFFERED_PROTOCOLS } from './payloads.js';
import { interopScenarios } from './scenarios.js';
import { WsPeerServer } from './ws-peer.js';

for (const secure of [false, true]) {
  describe(`Duplex client with a ws server over ${secure ? 'wss' : 'ws'}://`, { timeout: 600_000 }, () => {
    let http: Server | undefined;
    let server: WsPeerServer | undefined;
    let cert: SelfSignedCert | undefined;
    let url = '';

    before(async () => {
      cert = secure ? await makeSelfSignedCert() : undefined;
      http = cert ? createHttpsServer({ key: cert.key, cert: cert.cert }) : createHttpServer();
      server = new WsPeerServer(http);
      await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
      url = `${secure ? 'wss' : 'ws'}://127.0.0.1:${(http.address() as AddressInfo).port}/interop`;
    });
    after(async () => {
      await server?.close();
      http?.closeAllConnections();
      await withTimeout(new Promise((resolve) => http?.close(resolve)), 10_000, 'ws http server close').catch(
        () => {},
      );
    });

    interopScenarios({
      peerCanPing: true,
      connect: async () => {
        const duplex = await openDuplexClient(url, OFFERED_PROTOCOLS, cert?.cert);
        try {
          const { endpoint, offered } = await server!.nextConnection();
          return { duplex, peer: endpoint, offeredSeenByServer: offered };
        } catch (err) {
          await duplex.dispose();
          throw err;
        }
      },
    });
  });
}
