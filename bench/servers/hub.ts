/**
 * The Duplex hub the hub benchmark (issue 9) compares with Socket.IO 4: a `Hub` (duplexjs/hub)
 * on an http server at `/hub`, the in-memory broker (the default), anonymous clients.
 *   node build/bench/servers/hub.js [--port P]
 * Settings, against the hub's defaults:
 * - channels: the hub's default channel policy, unchanged (history on: the last 100 messages of
 *   each channel for 5 minutes; presence and join/leave on, which anonymous clients do not
 *   trigger; slow consumers closed with 4004);
 * - `authorize: () => true`: anonymous clients may publish (by default only `hub.publish`
 *   may), the "allowing anonymous subscribe/publish";
 * - limits: the per-connection message rate raised (the default, 50 messages/s with bursts of
 *   a few hundred, would refuse a benchmark's publisher; Socket.IO has no such limit); every
 *   other limit is the default;
 * - `perMessageDeflate: false`, as the issue asks of both servers (the generator never offers
 *   it anyway).
 * Ready line and shutdown as `duplex echo`: `listening on ws://127.0.0.1:P/hub`, SIGTERM or
 * SIGINT closes the hub (every client gets 1001) and exits 0, bounded at 2 s.
 */
import { serveHub } from '../lib/hub-server.js';

const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;

serveHub(port);
