// Chromium's own WebSocket as an interop peer: Debian's chromium, driven by playwright-core,
// runs a small agent page served on loopback; the page reports what its WebSocket sees.
// A test file calls chromiumClients() in its describe() and opens clients with it.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { CHROMIUM_PATH, hasSystem } from '../helpers/system.js';
import { type Endpoint, EventLog, type Observed, withTimeout } from './endpoint.js';

/** launchChromium starts headless Debian chromium with no network beyond what a page asks. */
export function launchChromium(): Promise<Browser> {
  return withTimeout(
    chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
      timeout: 30_000,
    }),
    45_000,
    'chromium to launch',
  );
}

// The page's agent. It serialises its reports (hashing is async) so that they keep arrival order.
const AGENT_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>duplex interop agent</title>
<script>
let ws;
let chain = Promise.resolve();
const report = (make) => {
  chain = chain.then(make).then((e) => window.duplexReport(JSON.stringify(e)));
};
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const toB64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
window.agent = {
  open(url, protocols) {
    return new Promise((resolve, reject) => {
      let opened = false;
      ws = new WebSocket(url, protocols);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        opened = true;
        resolve(ws.protocol);
      };
      ws.onerror = () => report(() => ({ kind: 'error', message: 'error event' }));
      ws.onclose = (ev) => {
        if (!opened) reject(new Error('closed before open: ' + ev.code));
        report(() => ({ kind: 'close', code: ev.code, reason: ev.reason, wasClean: ev.wasClean }));
      };
      ws.onmessage = (ev) => {
        const text = typeof ev.data === 'string';
        const bytes = text ? new TextEncoder().encode(ev.data) : new Uint8Array(ev.data);
        report(async () => {
          const msg = { kind: 'message', type: text ? 'text' : 'binary', length: bytes.length,
            sha256: hex(await crypto.subtle.digest('SHA-256', bytes)) };
          if (bytes.length <= 65536) {
            if (text) msg.text = ev.data;
            else msg.b64 = toB64(bytes);
          }
          return msg;
        });
      };
    });
  },
  extensions() { return ws.extensions; },
  sendText(text) { ws.send(text); },
  sendBinary(b64) { ws.send(fromB64(b64)); },
  close(code, reason) { ws.close(code, reason); },
};
</script>
`;

/** AgentPageServer serves the agent page on loopback. */
class AgentPageServer {
  readonly server: Server;
  constructor() {
    this.server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(AGENT_PAGE);
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * openChromiumClient opens the agent page in a fresh context and connects its WebSocket to url.
 * `ignoreHTTPSErrors` lets wss:// reach a server with a self-signed certificate.
 */
async function openChromiumClient(
  browser: Browser,
  pageUrl: string,
  url: string,
  protocols: string[],
  options: { ignoreHTTPSErrors?: boolean } = {},
): Promise<Endpoint> {
  const context: BrowserContext = await browser.newContext({
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const events = new EventLog<Observed>();
    await page.exposeFunction('duplexReport', (json: string) => {
      const r = JSON.parse(json) as Observed & { b64?: string };
      if (r.kind === 'message') {
        if (r.b64 !== undefined) r.bytes = Buffer.from(r.b64, 'base64');
        else if (r.text !== undefined) r.bytes = Buffer.from(r.text, 'utf8');
        delete r.b64;
      }
      events.push(r);
    });
    await page.goto(pageUrl);
    const protocol = await page.evaluate(
      ([u, p]) =>
        (window as unknown as { agent: { open(u: string, p: string[]): Promise<string> } }).agent.open(u, p),
      [url, protocols] as [string, string[]],
    );
    type Agent = {
      extensions(): string;
      sendText(t: string): void;
      sendBinary(b64: string): void;
      close(c: number, r: string): void;
    };
    const extensions = await page.evaluate(() => (window as unknown as { agent: Agent }).agent.extensions());
    return {
      name: 'Chromium client',
      events,
      protocol,
      extensions,
      sendText: async (text) => {
        await page.evaluate((t) => (window as unknown as { agent: Agent }).agent.sendText(t), text);
      },
      sendBinary: async (data) => {
        await page.evaluate(
          (b64) => (window as unknown as { agent: Agent }).agent.sendBinary(b64),
          data.toString('base64'),
        );
      },
      close: async (code, reason) => {
        await page.evaluate(([c, r]) => (window as unknown as { agent: Agent }).agent.close(c, r), [
          code,
          reason,
        ] as [number, string]);
      },
      dispose: () => context.close(),
    };
  } catch (err) {
    await context.close();
    throw err;
  }
}

/** ChromiumClients opens Chromium clients for the tests of one describe() block. */
export interface ChromiumClients {
  /** open connects a fresh page's WebSocket to url (see openChromiumClient). */
  open(url: string, protocols: string[], options?: { ignoreHTTPSErrors?: boolean }): Promise<Endpoint>;
  /** pageOrigin is the agent page's origin, for a server's allowedOrigins (set once `before` ran). */
  pageOrigin(): string;
}

/**
 * chromiumClients registers, in the enclosing describe(), the before and after hooks that every
 * Chromium test shares: the agent page served on loopback, and headless chromium launched where
 * Debian's package is installed. Each test still gates itself with requireSystem(t, 'chromium')
 * before it calls `open`.
 */
export function chromiumClients(): ChromiumClients {
  let browser: Browser | undefined;
  const pages = new AgentPageServer();
  let pageUrl = '';
  before(
    async () => {
      pageUrl = await pages.listen();
      if (hasSystem('chromium')) browser = await launchChromium();
    },
    { timeout: 60_000 },
  );
  after(async () => {
    await browser?.close();
    await pages.close();
  });
  return {
    open: async (url, protocols, options) => {
      if (!browser)
        throw new Error('chromium is not running: gate the test with requireSystem(t, "chromium")');
      return openChromiumClient(browser, pageUrl, url, protocols, options);
    },
    pageOrigin: () => new URL(pageUrl).origin,
  };
}
