/**
 * The Socket.IO 4 server the hub benchmark (issue 9) compares the Duplex hub with, configured
 * as the issue asks: the websocket transport only (no HTTP long-polling, no upgrade), no
 * compression (`perMessageDeflate: false`, `httpCompression: false`), Socket.IO's defaults
 * otherwise (in-memory adapter, pingInterval 25 s), pure JS (bufferutil and utf-8-validate
 * are not installed, so ws masks and validates in JavaScript).
 *   node build/bench/servers/socketio.js [--port P]
 * A client joins a room named by the `room` query parameter of its connection
 * (`/socket.io/?EIO=4&transport=websocket&room=room-0`), or later with the event
 * `join(room, ack?)`. A publisher emits `publish(room, data, ack?)`; the server broadcasts
 * `msg(data)` to the room with `socket.to(room).emit` (every member but the publisher) and
 * acknowledges when asked, as the hub answers a publish with `published`.
 * Ready line and shutdown as `duplex echo`: `listening on ws://127.0.0.1:P/`, SIGTERM or
 * SIGINT disconnects every client and exits 0, bounded at 2 s.
 */
import { serveSocketIo } from '../lib/socketio-server.js';

const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;

serveSocketIo(port);
