// Duplex client with Debian's python3-websockets server, over ws:// and wss://.

import { after, before, describe } from 'node:test';
import { hasSystem, requireSystem } from '../helpers/system.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';
import { openDuplexClient } from './duplex-peer.js';
import { CHOSEN_PROTOCOL, OFFERED_PROTOCOLS } from './payloads.js';
import { type PemFiles, PythonPeer, writePemFiles } from './python-peer.js';
import { interopScenarios } from './scenarios.js';

for (const secure of [false, true]) {
  describe(`Duplex client with a python-websockets server over ${secure ? 'wss' : 'ws'}://`, {
    timeout: 600_000,
  }, () => {
    let python: PythonPeer | undefined;
    let pems: PemFiles | undefined;
    let cert: SelfSignedCert | undefined;
    let url = '';

    before(async () => {
      if (!hasSystem('python3-websockets')) return;
      cert = secure ? await makeSelfSignedCert() : undefined;
      const args = ['server', '--host', '127.0.0.1', '--port', '0', '--subprotocol', CHOSEN_PROTOCOL];
      if (cert) {
        pems = await writePemFiles({ cert: cert.cert, key: cert.key });
        args.push('--certfile', pems.paths['cert']!, '--keyfile', pems.paths['key']!);
      }
      python = await PythonPeer.start(args);
      const ready = await python.control.take(
        (e) => e.event === 'listening' || e.event === 'exit',
        'the python server to listen',
      );
      if (ready.event !== 'listening')
        throw new Error(`python server did not start: ${String(ready['message'])}`);
      url = `${secure ? 'wss' : 'ws'}://127.0.0.1:${String(ready['port'])}/interop`;
    });
    after(async () => {
      await python?.kill();
      await pems?.remove();
    });

    interopScenarios({
      peerCanPing: true,
      connect: async (t) => {
        if (!requireSystem(t, 'python3-websockets')) return undefined;
        const duplex = await openDuplexClient(url, OFFERED_PROTOCOLS, cert?.cert);
        try {
          const open = await python!.control.take(
            (e) => e.event === 'open' || e.event === 'exit',
            'the python server to accept',
          );
          if (open.event !== 'open') throw new Error(`python server: ${String(open['message'])}`);
          const conn = Number(open['conn']);
          const peer = python!.endpoint(conn, 'python-websockets server', String(open['subprotocol'] ?? ''));
          return { duplex, peer, offeredSeenByServer: open['offered'] as string[] };
        } catch (err) {
          await duplex.dispose();
          throw err;
        }
      },
    });
  });
}
