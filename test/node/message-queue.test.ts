import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// MessageQueue is internal (src/node/message-queue.ts): its unit tests load it from the build.
type QueueModule = typeof import('../../dist/node/message-queue.js');
const { MessageQueue } = (await import(
  new URL('../../../dist/node/message-queue.js', import.meta.url).href
)) as QueueModule;

/** Flow records the pause/resume calls of a queue. */
function flow() {
  const calls: string[] = [];
  return { calls, pause: () => calls.push('pause'), resume: () => calls.push('resume') };
}

describe('MessageQueue', () => {
  it('pauses at 16 messages and resumes once fewer than 8 wait', async () => {
    const f = flow();
    const q = new MessageQueue<number>(f, () => {});
    for (let i = 0; i < 15; i++) q.push(i, 1);
    assert.deepEqual(f.calls, []);
    q.push(15, 1);
    assert.deepEqual(f.calls, ['pause']);
    q.push(16, 1);
    assert.deepEqual(f.calls, ['pause'], 'paused once');
    for (let i = 0; i < 9; i++) assert.deepEqual(await q.next(), { value: i, done: false });
    assert.deepEqual(f.calls, ['pause'], '8 still wait');
    await q.next();
    assert.deepEqual(f.calls, ['pause', 'resume']);
  });

  it('pauses at 1 MiB and resumes below 512 KiB', async () => {
    const f = flow();
    const q = new MessageQueue<string>(f, () => {});
    q.push('a', 512 * 1024);
    q.push('b', 512 * 1024 - 1);
    assert.deepEqual(f.calls, []);
    q.push('c', 1);
    assert.deepEqual(f.calls, ['pause']);
    await q.next();
    assert.deepEqual(f.calls, ['pause'], '512 KiB still wait');
    await q.next();
    assert.deepEqual(f.calls, ['pause', 'resume']);
  });

  it('hands a message straight to a waiting loop', async () => {
    const q = new MessageQueue<string>(flow(), () => {});
    const next = q.next();
    q.push('x', 1);
    assert.deepEqual(await next, { value: 'x', done: false });
  });

  it('yields what is queued before it ends, then throws the error it ended with', async () => {
    const q = new MessageQueue<string>(flow(), () => {});
    q.push('a', 1);
    const boom = new Error('boom');
    q.end(boom);
    q.push('ignored', 1);
    assert.deepEqual(await q.next(), { value: 'a', done: false });
    await assert.rejects(q.next(), boom);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });

  it('ends a waiting loop without an error as done', async () => {
    const q = new MessageQueue<string>(flow(), () => {});
    const next = q.next();
    q.end();
    assert.deepEqual(await next, { value: undefined, done: true });
  });

  it('return detaches: drops the queue, resumes reading, tells its owner', async () => {
    const f = flow();
    let detached = 0;
    const q = new MessageQueue<number>(f, () => detached++);
    for (let i = 0; i < 16; i++) q.push(i, 1);
    assert.deepEqual(await q.return(), { value: undefined, done: true });
    assert.deepEqual([f.calls, detached], [['pause', 'resume'], 1]);
    q.push(99, 1);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });
});
