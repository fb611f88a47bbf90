/**
 * json-messages generates the JSON-like payloads of the permessage-deflate benchmark: each
 * message is an object holding an array of records with the same keys (ids, prices,
 * timestamps, short strings from small vocabularies, nested objects), as an API or a feed
 * would send, padded with words to exactly `size` bytes. A seeded PRNG makes the messages
 * identical from run to run and from process to process.
 */

/** mulberry32 is a small seeded PRNG (deterministic, not cryptographic). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const EVENTS = ['order.created', 'order.updated', 'order.shipped', 'payment.settled', 'cart.changed'];
const TAGS = ['red', 'blue', 'green', 'sale', 'new', 'limited', 'eu', 'us', 'gift', 'bulk'];
const WORDS = ['lorem', 'ipsum', 'delivery', 'window', 'morning', 'express', 'standard', 'note', 'door'];

/** jsonMessages returns `count` distinct UTF-8 JSON messages of exactly `size` bytes (size >= 64). */
export function jsonMessages(size: number, count: number, seed = 7692): Buffer[] {
  if (!(size >= 64)) throw new RangeError('jsonMessages needs size >= 64');
  const rnd = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const out: Buffer[] = [];
  let id = 100_000 + Math.floor(rnd() * 1000);
  for (let seq = 0; seq < count; seq++) {
    const head = `{"seq":${seq},"source":"bench","items":[`;
    const items: string[] = [];
    // Room left for `],"note":"..."}` with at least a few characters of note.
    let length = head.length;
    for (;;) {
      const item = JSON.stringify({
        id: id++,
        user: `${pick(USERS)}_${Math.floor(rnd() * 100)}`,
        event: pick(EVENTS),
        price: Math.round(rnd() * 100_000) / 100,
        qty: 1 + Math.floor(rnd() * 9),
        active: rnd() < 0.7,
        tags: [pick(TAGS), pick(TAGS)],
        ts: 1_760_000_000_000 + Math.floor(rnd() * 1e9),
        geo: { lat: Math.round(rnd() * 180_000) / 1000 - 90, lon: Math.round(rnd() * 360_000) / 1000 - 180 },
      });
      const add = item.length + (items.length > 0 ? 1 : 0);
      if (length + add + 16 > size) break;
      items.push(item);
      length += add;
    }
    const body = `${head}${items.join(',')}],"note":"`;
    let note = '';
    while (body.length + note.length + 2 < size) note += `${pick(WORDS)} `;
    note = note.slice(0, size - body.length - 2);
    const text = `${body}${note}"}`;
    JSON.parse(text); // always valid JSON
    out.push(Buffer.from(text, 'utf8'));
  }
  return out;
}
