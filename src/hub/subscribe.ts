/**
 * subscribe runs one `subscribe` request: a fresh subscription, a resubscription with `since`
 * that replays what the client missed, or a resync of a live subscription. The seam between the
 * history read and the live stream is closed by holding the live stream while history is read,
 * then merging the two by offset.
 */
import { HubErrorCode } from '../wire/codes.js';
import type { StreamPosition, SubscribeRequest } from '../wire/messages.js';
import type { BrokerPublication } from './broker.js';
import { Ahead, LIVE, type LocalChannel, PENDING, Recovery } from './channel.js';
import type { HubConnection } from './connection.js';
import { brokerUnavailable, HubError } from './errors.js';
import type { HubInternals } from './hub.js';

export async function subscribe(
  connection: HubConnection,
  hub: HubInternals,
  message: SubscribeRequest,
): Promise<void> {
  const { channel, since } = message;
  const resync = connection.channels?.includes(channel) === true;
  if (resync && since === undefined) {
    throw new HubError(HubErrorCode.AlreadySubscribed, `already subscribed to ${channel}`);
  }
  if (!resync && (connection.channels?.length ?? 0) >= hub.options.limits.maxSubscriptions) {
    throw new HubError(HubErrorCode.TooManySubscriptions, 'too many subscriptions');
  }
  await connection.authorize('subscribe', channel);
  if (connection.isClosed()) return;
  if (resync) {
    // A resubscription on a live subscription (the client saw a gap): what is queued for the
    // channel is replaced by the exact replay below.
    const queue = connection.queue;
    if (queue) {
      const before = queue.bytes;
      queue.dropChannel(channel);
      hub.counters.queuedBytes -= before - queue.bytes;
    }
  } else if (connection.channels) {
    connection.channels.push(channel);
  } else {
    // An exact-size array: most connections hold one or two subscriptions.
    connection.channels = [channel];
  }
  let local: LocalChannel;
  try {
    local = await hub.channelFor(connection, channel);
  } catch (error) {
    hub.unsubscribe(connection, channel);
    throw error;
  }
  if (connection.isClosed() || local.subscribers.get(connection) !== PENDING) return;
  const start = local.last;
  // A `since` behind this process's stream is replayed from history; one ahead of it (the client
  // came from a process whose fan-out was further along) is checked against history too, and
  // the live messages up to it are skipped.
  const recovery =
    since !== undefined && since.epoch === start.epoch && since.offset !== start.offset
      ? new Recovery()
      : undefined;
  local.subscribers.set(connection, recovery ?? LIVE);
  if (!recovery) {
    const recovered = since !== undefined && since.epoch === start.epoch && since.offset === start.offset;
    connection.send({ type: 'subscribed', id: message.id, channel, recovered, position: start });
  } else {
    await recover(connection, hub, message.id, local, since!, start, recovery);
  }
  if (!resync && local.subscribers.has(connection)) hub.subscribed(connection, local);
}

/**
 * recover replays what the client missed after `since`, then what arrived live meanwhile,
 * merged by offset: the history read started after the live stream was being held, so
 * together they cover everything, and nothing goes out twice.
 */
async function recover(
  connection: HubConnection,
  hub: HubInternals,
  id: number,
  local: LocalChannel,
  since: StreamPosition,
  start: StreamPosition,
  recovery: Recovery,
): Promise<void> {
  const limit = hub.options.limits.maxHistoryLimit;
  let pubs: BrokerPublication[] = [];
  let recovered = false;
  try {
    const result = await hub.options.broker.history(local.name, { since, limit });
    pubs = result.publications;
    const reached = pubs.length > 0 ? pubs[pubs.length - 1]!.offset : since.offset;
    recovered = result.complete && reached >= start.offset;
  } catch (error) {
    // The history could not be read (the broker is down): that is no loss, so the client is
    // not told `recovered: false`. The subscribe fails retryably and the client sends it again.
    hub.report(error);
    if (local.subscribers.get(connection) === recovery) hub.unsubscribe(connection, local.name);
    throw error instanceof HubError ? error : brokerUnavailable(undefined, error);
  }
  if (connection.isClosed() || local.subscribers.get(connection) !== recovery) return;
  let sent: StreamPosition;
  if (recovered) {
    connection.send({ type: 'subscribed', id, channel: local.name, recovered: true, position: since });
    for (const pub of pubs) {
      for (const frame of hub.pubFrames(local.name, pub, false)) connection.sendPrepared(frame);
    }
    sent = { offset: pubs.length > 0 ? pubs[pubs.length - 1]!.offset : since.offset, epoch: since.epoch };
  } else {
    connection.send({ type: 'subscribed', id, channel: local.name, recovered: false, position: start });
    sent = start;
  }
  const last = local.last;
  const ahead = sent.epoch === last.epoch && sent.offset > last.offset;
  local.subscribers.set(connection, ahead ? new Ahead(sent) : LIVE);
  for (const { pub, frames } of recovery.held) {
    if (pub.epoch === sent.epoch && pub.offset <= sent.offset) continue;
    connection.deliver(local, LIVE, pub, frames);
  }
}
