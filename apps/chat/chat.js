// The Duplex chat: HubClient from /duplex-client.js and nothing else. What it uses of the hub
// (docs/apps.md): `chat:<room>` channels with history and presence, `typing:<room>` channels
// that the server never stores, the `rooms` and `createRoom` methods, `meta:rooms` for rooms
// created by others, and the publish ack for each message's delivery state.
// Text from the network only ever goes into the page through textContent.
import { HubClient } from '/duplex-client.js';

const $ = (id) => document.getElementById(id);
const NAME_KEY = 'duplex-chat-name';
const HISTORY_LIMIT = 50;
const TYPING_REFRESH_MS = 2_000;
const TYPING_EXPIRES_MS = 5_000;
const MAX_MESSAGES_SHOWN = 500;
/** A message not stored within this time (time offline included) shows as failed, with Retry. */
const PUBLISH_TIMEOUT_MS = 10_000;

/** @type {HubClient | undefined} */
let client;
let me = '';
/** @type {Map<string, Room>} */
const rooms = new Map();
/** @type {Room | undefined} */
let active;
let wasDisconnected = false;
let bannerTimer;

/**
 * @typedef {object} Room
 * @property {string} name
 * @property {boolean} joined
 * @property {any} sub chat:<name>
 * @property {any} typingSub typing:<name>
 * @property {HTMLOListElement} log
 * @property {HTMLLIElement} item the entry in the room list
 * @property {HTMLSpanElement} badge
 * @property {number} unread
 * @property {Set<string>} seen epoch:offset of every message shown
 * @property {Array<{user: string, connections: number}>} members
 * @property {Map<string, number>} typing user -> timer
 * @property {any} membersTimer
 */

// ---- sign-in -------------------------------------------------------------------------------

function signIn(name) {
  me = name;
  localStorage.setItem(NAME_KEY, name);
  $('me').textContent = name;
  $('whoami').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  connect();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  if (name.length < 1 || name.length > 32) {
    $('signin-error').textContent = 'A name has 1 to 32 characters.';
    return;
  }
  signIn(name);
});

$('signout').addEventListener('click', () => {
  localStorage.removeItem(NAME_KEY);
  location.reload();
});

// ---- connection ----------------------------------------------------------------------------

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/hub`;
  client = new HubClient(url, { token: me, name: 'duplex-chat' });
  client.on('state', onState);
  client.on('error', (error) => {
    if (error.closeCode === 4001) {
      // The hub refused the name (close 4001): back to the form, with the reason.
      localStorage.removeItem(NAME_KEY);
      $('signin-error').textContent = 'The server refused that name. Choose another.';
      $('signin').hidden = false;
      $('app').hidden = true;
      $('whoami').hidden = true;
      $('banner').hidden = true;
      rooms.clear();
      active = undefined;
      $('rooms').replaceChildren();
      $('logs').replaceChildren();
    }
  });
  client.subscribe('meta:rooms').on('message', (data) => {
    if (typeof data?.room === 'string') addRoom(data.room);
  });
  join('lobby');
}

function onState(state) {
  const badge = $('state');
  badge.textContent = state;
  badge.dataset.state = state;
  const banner = $('banner');
  clearTimeout(bannerTimer);
  if (state === 'reconnecting') {
    wasDisconnected = true;
    banner.textContent =
      'Connection lost. Reconnecting… Messages you send now wait and go out once the chat is back.';
    banner.hidden = false;
  } else if (state === 'open') {
    loadRooms();
    if (wasDisconnected) {
      banner.textContent = 'Back online. Messages sent while you were away are shown in their rooms.';
      bannerTimer = setTimeout(() => {
        banner.hidden = true;
      }, 4_000);
    } else banner.hidden = true;
  } else if (state === 'closed' && !$('app').hidden) {
    banner.textContent = 'Disconnected for good. Reload the page to come back.';
    banner.hidden = false;
  }
}

async function loadRooms() {
  try {
    const names = await client.call('rooms', null, { timeoutMs: 5_000 });
    if (Array.isArray(names)) for (const name of names) if (typeof name === 'string') addRoom(name);
  } catch {
    // The list comes again at the next connection; the rooms already shown stay usable.
  }
}

// ---- rooms ---------------------------------------------------------------------------------

/** addRoom puts a room in the list (not joined yet: no subscription, no unread count). */
function addRoom(name) {
  if (rooms.has(name)) return rooms.get(name);
  const item = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.room = name;
  const label = document.createElement('span');
  label.textContent = `#${name}`;
  const badge = document.createElement('span');
  badge.className = 'unread';
  badge.hidden = true;
  button.append(label, badge);
  button.addEventListener('click', () => join(name));
  item.append(button);
  $('rooms').append(item);
  const log = document.createElement('ol');
  log.className = 'log';
  log.hidden = true;
  log.dataset.room = name;
  log.setAttribute('aria-label', `Messages in #${name}`);
  log.setAttribute('role', 'log');
  $('logs').append(log);
  /** @type {Room} */
  const room = {
    name,
    joined: false,
    sub: undefined,
    typingSub: undefined,
    log,
    item,
    badge,
    unread: 0,
    seen: new Set(),
    members: [],
    typing: new Map(),
    membersTimer: undefined,
  };
  rooms.set(name, room);
  return room;
}

/** join subscribes to a room (once) and shows it. */
function join(name) {
  const room = addRoom(name);
  if (!room.joined) {
    room.joined = true;
    room.sub = client.subscribe(`chat:${name}`);
    room.sub.on('subscribed', ({ recovered, resubscribed }) => {
      if (!resubscribed) loadHistory(room);
      else if (!recovered) {
        notice(
          room,
          'History lost: the server could not replay what was sent while you were away (it restarted, or its history no longer reaches back). Messages from that time may be missing.',
        );
        loadHistory(room);
      }
      refreshMembers(room);
    });
    room.sub.on('message', (data, meta) => onMessage(room, data, meta, true));
    room.sub.on('join', () => refreshMembers(room));
    room.sub.on('leave', () => refreshMembers(room));
    room.typingSub = client.subscribe(`typing:${name}`);
    room.typingSub.on('message', (data, meta) => onTyping(room, data, meta));
  }
  show(room);
}

function show(room) {
  if (active === room) return;
  if (active) {
    active.log.hidden = true;
    active.item.querySelector('button').removeAttribute('aria-current');
    stopTyping();
  }
  active = room;
  room.log.hidden = false;
  room.item.querySelector('button').setAttribute('aria-current', 'true');
  room.unread = 0;
  renderBadge(room);
  $('room-title').textContent = `#${room.name}`;
  renderMembers();
  renderTyping();
  room.log.scrollTop = room.log.scrollHeight;
}

function renderBadge(room) {
  room.badge.textContent = String(room.unread);
  room.badge.hidden = room.unread === 0;
  const button = room.item.querySelector('button');
  if (room.unread === 0) button.removeAttribute('aria-label');
  else button.setAttribute('aria-label', `#${room.name}, ${room.unread} unread`);
}

$('new-room').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('room-name');
  const name = input.value.trim().toLowerCase();
  $('room-error').textContent = '';
  try {
    const names = await client.call('createRoom', { name }, { timeoutMs: 5_000 });
    for (const n of names) addRoom(n);
    input.value = '';
    join(name);
  } catch (error) {
    $('room-error').textContent = `Could not create the room: ${error.message}`;
  }
});

// ---- messages ------------------------------------------------------------------------------

async function loadHistory(room) {
  try {
    const page = await room.sub.history({ limit: HISTORY_LIMIT });
    for (const pub of page.publications) onMessage(room, pub.data, pub, false);
  } catch {
    notice(room, 'Could not load the earlier messages of this room.');
  }
}

/** pending holds own messages by client id until the hub has stored them and they came back. */
const pending = new Map();

function onMessage(room, data, meta, live) {
  const key = `${meta.epoch}:${meta.offset}`;
  if (room.seen.has(key)) return;
  room.seen.add(key);
  const cid = typeof data?.cid === 'string' ? data.cid : undefined;
  const own = cid !== undefined && meta.from === me ? pending.get(cid) : undefined;
  if (own) {
    // The message came back: it keeps its element and its place.
    own.li.dataset.epoch = meta.epoch;
    own.li.dataset.offset = String(meta.offset);
    setDelivery(own, 'stored');
    pending.delete(cid);
    return;
  }
  const li = messageItem(meta.from ?? 'anonymous', data, meta);
  place(room.log, li, meta);
  if (live && room !== active) {
    room.unread++;
    renderBadge(room);
  }
  if (live) clearTypingOf(room, meta.from);
}

function messageItem(author, data, meta) {
  const li = document.createElement('li');
  li.className = 'message';
  if (meta) {
    li.dataset.epoch = meta.epoch;
    li.dataset.offset = String(meta.offset);
  }
  const head = document.createElement('div');
  const who = document.createElement('span');
  who.className = 'author';
  who.textContent = String(author).slice(0, 32);
  const time = document.createElement('time');
  const t = typeof data?.t === 'number' ? new Date(data.t) : new Date();
  if (!Number.isNaN(t.getTime())) {
    time.dateTime = t.toISOString();
    time.textContent = t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  head.append(who, time);
  const text = document.createElement('p');
  text.className = 'text';
  text.textContent = typeof data?.text === 'string' ? data.text.slice(0, 2000) : '(a message this chat cannot show)';
  li.append(head, text);
  return li;
}

/** place inserts a message in offset order (history arrives after live ones), before own pending ones. */
function place(log, li, meta) {
  let before = null;
  for (const other of log.children) {
    const pendingOwn = other.dataset.delivery === 'sending' || other.dataset.delivery === 'failed';
    if (pendingOwn || (other.dataset.epoch === meta.epoch && Number(other.dataset.offset) > meta.offset)) {
      before = other;
      break;
    }
  }
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.insertBefore(li, before);
  while (log.children.length > MAX_MESSAGES_SHOWN) log.firstElementChild.remove();
  if (atBottom || before === null) log.scrollTop = log.scrollHeight;
}

function notice(room, text) {
  const li = document.createElement('li');
  li.className = 'notice';
  li.setAttribute('role', 'note');
  li.textContent = text;
  room.log.append(li);
  room.log.scrollTop = room.log.scrollHeight;
}

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('text');
  const text = input.value.trim();
  if (!text || !active) return;
  input.value = '';
  stopTyping();
  const cid = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const li = messageItem(me, { text, t: Date.now() }, undefined);
  li.classList.add('own');
  const state = document.createElement('span');
  state.className = 'delivery';
  li.querySelector('div').append(state);
  active.log.append(li);
  active.log.scrollTop = active.log.scrollHeight;
  const own = { li, state, room: active, data: { text, cid, t: Date.now() } };
  pending.set(cid, own);
  send(own);
});

function send(own) {
  setDelivery(own, 'sending');
  // The client id is the idempotency key too: a retry of a publish that was stored after all is stored once.
  client
    .publish(`chat:${own.room.name}`, own.data, { idempotencyKey: own.data.cid, timeoutMs: PUBLISH_TIMEOUT_MS })
    .then((position) => {
      own.li.dataset.epoch = position.epoch;
      own.li.dataset.offset = String(position.offset);
      own.room.seen.add(`${position.epoch}:${position.offset}`);
      pending.delete(own.data.cid);
      setDelivery(own, 'stored');
    })
    .catch((error) => setDelivery(own, 'failed', error));
}

function setDelivery(own, state, error) {
  own.li.dataset.delivery = state;
  own.state.dataset.delivery = state;
  own.state.replaceChildren();
  if (state === 'sending') own.state.textContent = 'sending…';
  else if (state === 'stored') own.state.textContent = '✓ stored';
  else {
    own.state.textContent = `not sent (${error?.code ?? 'error'})`;
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'secondary';
    retry.textContent = 'Retry';
    retry.addEventListener('click', () => send(own));
    own.state.append(retry);
  }
}

// ---- members -------------------------------------------------------------------------------

function refreshMembers(room) {
  clearTimeout(room.membersTimer);
  room.membersTimer = setTimeout(async () => {
    try {
      room.members = await room.sub.presence();
      if (room === active) renderMembers();
    } catch {
      // Presence comes again with the next join, leave or resubscription.
    }
  }, 50);
}

function renderMembers() {
  const list = $('members');
  const members = [...(active?.members ?? [])].sort((a, b) => a.user.localeCompare(b.user));
  list.replaceChildren(
    ...members.map((m) => {
      const li = document.createElement('li');
      li.dataset.user = m.user;
      li.textContent = m.user;
      if (m.user === me) {
        const you = document.createElement('span');
        you.className = 'you';
        you.textContent = ' (you)';
        li.append(you);
      }
      return li;
    }),
  );
  $('members-title').textContent = `Members (${members.length})`;
}

// ---- typing --------------------------------------------------------------------------------

let typingSentAt = 0;
let typingRoom;

$('text').addEventListener('input', () => {
  if (!active || client?.state !== 'open') return;
  if ($('text').value.trim() === '') return stopTyping();
  const now = Date.now();
  if (typingRoom === active && now - typingSentAt < TYPING_REFRESH_MS) return;
  typingSentAt = now;
  typingRoom = active;
  client.publish(`typing:${active.name}`, { typing: true }).catch(() => {});
});

function stopTyping() {
  if (!typingRoom) return;
  if (client?.state === 'open') client.publish(`typing:${typingRoom.name}`, { typing: false }).catch(() => {});
  typingRoom = undefined;
  typingSentAt = 0;
}

function onTyping(room, data, meta) {
  const user = meta.from;
  if (!user || user === me) return;
  clearTypingOf(room, user, true);
  if (data?.typing === true) {
    room.typing.set(
      user,
      setTimeout(() => clearTypingOf(room, user), TYPING_EXPIRES_MS),
    );
  }
  if (room === active) renderTyping();
}

function clearTypingOf(room, user, quiet) {
  if (!user || !room.typing.has(user)) return;
  clearTimeout(room.typing.get(user));
  room.typing.delete(user);
  if (!quiet && room === active) renderTyping();
}

function renderTyping() {
  const users = [...(active?.typing.keys() ?? [])];
  $('typing').textContent =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${users[0]} is typing…`
        : users.length <= 3
          ? `${users.join(', ')} are typing…`
          : 'Several people are typing…';
}

// ---- start ---------------------------------------------------------------------------------

const saved = localStorage.getItem(NAME_KEY);
if (saved) signIn(saved);
else $('name').focus();
