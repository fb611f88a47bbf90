// ws's README, "Server broadcast" (to all, and to every other client), run on Duplex with
// the import renamed. Three clients; the test checks who receives what.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { portOf, TIMEOUT, until } from './harness.js';

/** Client is a connected client with the messages it received, as text. */
interface Client {
  ws: WebSocket;
  got: string[];
  next(): Promise<string>;
}

async function connect(port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const got: string[] = [];
  const waiting: Array<(s: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const w = waiting.shift();
    if (w) w(text);
    else got.push(text);
  });
  await until(ws, 'open');
  return {
    ws,
    got,
    next: () => {
      const queued = got.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message')), TIMEOUT);
        waiting.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
    },
  };
}

/** clientsOf connects three clients once the server counts them all. */
async function threeClients(wss: WebSocketServer): Promise<[Client, Client, Client]> {
  await until(wss, 'listening');
  const port = portOf(wss);
  const clients = [await connect(port), await connect(port), await connect(port)] as [Client, Client, Client];
  for (let i = 0; wss.clients.size < 3 && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(wss.clients.size, 3);
  return clients;
}

async function closeAll(wss: WebSocketServer, clients: Client[]): Promise<void> {
  await Promise.all(
    clients.map((c) => {
      const closed = until(c.ws, 'close');
      c.ws.close();
      return closed;
    }),
  );
  await wss.close();
}

describe('Server broadcast (README)', () => {
  test('to all connected clients, including the sender, with the type kept', async () => {
    // ---- README ----
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

    wss.on('connection', function connection(ws) {
      ws.on('error', console.error);

      ws.on('message', function message(data, isBinary) {
        wss.clients.forEach(function each(client) {
          if (client.readyState === WebSocket.OPEN) {
            client.send(data, { binary: isBinary });
          }
        });
      });
    });
    // ---- end ----

    const [a, b, c] = await threeClients(wss);
    const types: boolean[] = [];
    b.ws.on('message', (_data, isBinary) => types.push(isBinary));
    a.ws.send('hello all');
    assert.deepEqual(
      [await a.next(), await b.next(), await c.next()],
      ['hello all', 'hello all', 'hello all'],
    );
    a.ws.send(Buffer.from('binary all'));
    assert.equal(await b.next(), 'binary all');
    assert.deepEqual(types, [false, true], 'text stays text and binary stays binary');
    await closeAll(wss, [a, b, c]);
  });

  test('to every other client, excluding the sender', async () => {
    // ---- README ----
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

    wss.on('connection', function connection(ws) {
      ws.on('error', console.error);

      ws.on('message', function message(data, isBinary) {
        wss.clients.forEach(function each(client) {
          if (client !== ws && client.readyState === WebSocket.OPEN) {
            client.send(data, { binary: isBinary });
          }
        });
      });
    });
    // ---- end ----

    const [a, b, c] = await threeClients(wss);
    a.ws.send('from a');
    assert.deepEqual([await b.next(), await c.next()], ['from a', 'from a']);
    // Once b and c have a's message, b speaks: a's first message must be b's, not its own.
    b.ws.send('from b');
    assert.equal(await a.next(), 'from b');
    assert.equal(await c.next(), 'from b');
    await closeAll(wss, [a, b, c]);
  });
});
