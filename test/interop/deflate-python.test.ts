// permessage-deflate between Duplex and Debian's python3-websockets (its deflate is on by
// default), both directions: websockets' default settings, and no context takeover with
// 10-bit windows (a ClientPerMessageDeflateFactory / ServerPerMessageDeflateFactory).

import { after, before, describe } from 'node:test';
import type { PerMessageDeflateOptions } from 'duplexjs/protocol';
import { hasSystem, requireSystem } from '../helpers/system.js';
import { DuplexDeflateServer, deflateScenarios, serverWire } from './deflate-scenarios.js';
import { openDuplexClient } from './duplex-peer.js';
import { PythonPeer, startPythonClient } from './python-peer.js';

const SMALL_HEADER =
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10';
const SMALL_DUPLEX: PerMessageDeflateOptions = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 10,
  clientMaxWindowBits: 10,
};

for (const c of [
  { mode: 'default', expected: 'permessage-deflate' },
  { mode: 'small', expected: SMALL_HEADER },
]) {
  describe(`deflate: Duplex server with a python-websockets client (--deflate ${c.mode})`, {
    timeout: 600_000,
  }, () => {
    let server: DuplexDeflateServer | undefined;
    before(async () => {
      server = await DuplexDeflateServer.start({});
    });
    after(() => server?.close());
    deflateScenarios({
      expected: c.expected,
      connect: async (t) => {
        if (!requireSystem(t, 'python3-websockets')) return undefined;
        const { endpoint: peer } = await startPythonClient(server!.url, [], undefined, ['--deflate', c.mode]);
        const { endpoint, socket } = await server!.nextConnection();
        return { duplex: endpoint, peer, wire: serverWire(socket, true) };
      },
    });
  });
}

for (const c of [
  {
    mode: 'default',
    client: true,
    expected: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
  },
  { mode: 'small', client: true, expected: SMALL_HEADER },
  { mode: 'default', client: SMALL_DUPLEX, expected: SMALL_HEADER },
] as const) {
  const who =
    c.client === true ? 'the Duplex client' : 'the Duplex client offering no takeover and 10-bit windows';
  describe(`deflate: ${who} with a python-websockets server (--deflate ${c.mode})`, {
    timeout: 600_000,
  }, () => {
    let python: PythonPeer | undefined;
    let url = '';
    before(async () => {
      if (!hasSystem('python3-websockets')) return;
      python = await PythonPeer.start(['server', '--host', '127.0.0.1', '--port', '0', '--deflate', c.mode]);
      const ready = await python.control.take(
        (e) => e.event === 'listening' || e.event === 'exit',
        'the python server to listen',
      );
      if (ready.event !== 'listening')
        throw new Error(`python server did not start: ${String(ready['message'])}`);
      url = `ws://127.0.0.1:${String(ready['port'])}/deflate`;
    });
    after(async () => {
      await python?.kill();
    });
    deflateScenarios({
      expected: c.expected,
      connect: async (t) => {
        if (!requireSystem(t, 'python3-websockets')) return undefined;
        const duplex = await openDuplexClient(url, [], undefined, { perMessageDeflate: c.client });
        try {
          const open = await python!.control.take(
            (e) => e.event === 'open' || e.event === 'exit',
            'the python server to accept',
          );
          if (open.event !== 'open') throw new Error(`python server: ${String(open['message'])}`);
          const peer = python!.endpoint(
            Number(open['conn']),
            'python-websockets server',
            '',
            String(open['extensions'] ?? ''),
          );
          return { duplex, peer };
        } catch (err) {
          await duplex.dispose();
          throw err;
        }
      },
    });
  });
}
