/**
 * lossy-hub is a small `duplex.v1` server for `duplex bench --hub` tests: it speaks the
 * protocol faithfully (connect, subscribe, publish with its ack, pub with gap-free offsets per
 * subscriber, unsubscribe), and it loses or doubles chosen messages on chosen subscribers in a
 * way no client can notice: each subscriber's offsets are its own, so a message left out or
 * sent twice (with a fresh offset) looks like a correct stream. The bench must then find the
 * losses and duplicates from the publishers' sequence numbers alone, exactly as counted here.
 */
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'duplexjs';

/** Rule decides what happens to one message for one subscriber (numbered 0, 1, ... as they subscribe). */
export type Rule = (subscriber: number, data: { p?: number; s?: number }) => 'deliver' | 'drop' | 'double';

export interface LossyHub {
  url: string;
  /** Messages left out and messages sent twice so far, over all subscribers. */
  readonly dropped: number;
  readonly doubled: number;
  readonly published: number;
  close(): Promise<void>;
}

interface Sub {
  socket: WebSocket;
  number: number;
  channel: string;
  offset: number;
}

export async function startLossyHub(rule: Rule): Promise<LossyHub> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    heartbeat: false,
    handleProtocols: (protocols) => (protocols.includes('duplex.v1') ? 'duplex.v1' : false),
  });
  await new Promise<void>((resolve) => wss.on('listening', resolve));
  const subs: Sub[] = [];
  let numbered = 0;
  let offset = 0;
  const stats = { dropped: 0, doubled: 0, published: 0 };
  const epoch = 'lossy';
  wss.on('connection', (socket) => {
    const send = (m: object) => socket.send(JSON.stringify(m));
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      // biome-ignore lint/suspicious/noExplicitAny: the client's messages, read field by field
      const m = JSON.parse(event.data) as any;
      switch (m.type) {
        case 'connect':
          send({
            type: 'connected',
            id: m.id,
            client: `c${numbered}`,
            user: '',
            pingIntervalMs: 600_000,
            limits: { maxMessageBytes: 65_536, maxSubscriptions: 128 },
          });
          break;
        case 'subscribe': {
          const sub: Sub = { socket, number: numbered++, channel: m.channel, offset: 0 };
          subs.push(sub);
          send({
            type: 'subscribed',
            id: m.id,
            channel: m.channel,
            recovered: false,
            position: { offset: 0, epoch },
          });
          break;
        }
        case 'unsubscribe':
          send({ type: 'unsubscribed', id: m.id, channel: m.channel });
          break;
        case 'publish': {
          offset++;
          stats.published++;
          send({ type: 'published', id: m.id, channel: m.channel, offset, epoch });
          for (const sub of subs) {
            if (sub.channel !== m.channel || sub.socket.readyState !== 1) continue;
            const what = rule(sub.number, m.data);
            if (what === 'drop') {
              stats.dropped++;
              continue;
            }
            const times = what === 'double' ? 2 : 1;
            if (times === 2) stats.doubled++;
            for (let i = 0; i < times; i++) {
              sub.offset++;
              sub.socket.send(
                JSON.stringify({ type: 'pub', channel: m.channel, offset: sub.offset, epoch, data: m.data }),
              );
            }
          }
          break;
        }
        case 'pong':
          break;
        default:
          if (m.id !== undefined) {
            send({
              type: 'error',
              id: m.id,
              code: 'DUPLEX_HUB_BAD_REQUEST',
              message: `not in this test hub: ${m.type}`,
              retryable: false,
            });
          }
      }
    });
    socket.addEventListener('close', () => {
      for (let i = subs.length - 1; i >= 0; i--) if (subs[i]!.socket === socket) subs.splice(i, 1);
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/hub`,
    get dropped() {
      return stats.dropped;
    },
    get doubled() {
      return stats.doubled;
    },
    get published() {
      return stats.published;
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      await wss.close();
    },
  };
}
