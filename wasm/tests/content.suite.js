// Conversation content (PROTOCOL.md 28) through the package against a real relay:
// replies, disappearing posts, edits, deletion for everyone, reactions, read receipts,
// typing, timers, and the rules an app applies to its history (checkAmendment), also
// against a stranger who names another conversation's message and a peer who edits what
// it did not write.
import { assert, eq, throwsCode } from './harness.js';
import { online, recv } from './client.helpers.js';

export function contentSuite({ test }, sp, { relayUrl }) {
  const tag = Math.random().toString(36).slice(2, 8);
  const pw = 'correct horse battery staple';
  const opts = () => ({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048, bundleMaxAge: 0 });
  let alice;
  let bob;
  let carol;
  // What an app stores of a message, for checkAmendment/readApplies.
  const stored = (m, extra = {}) => ({ author: m.from, conversation: m.conversation, sentAt: m.sentAt, isText: m.kind === 'text', deleted: false, ...extra });

  test('content: three users register', async () => {
    alice = await sp.Client.register(opts(), `ca-${tag}`, pw);
    bob = await sp.Client.register(opts(), `cb-${tag}`, pw);
    carol = await sp.Client.register(opts(), `cc-${tag}`, pw);
    await Promise.all([online(alice), online(bob), online(carol)]);
  });

  test('content: a reply and a disappearing text carry replyTo and expiresIn; plain text stays content type 0', async () => {
    const first = await alice.send(`cb-${tag}`, 'lunch?');
    const m1 = await recv(bob);
    eq([m1.kind, m1.text, m1.contentType], ['text', 'lunch?', 0]);
    await bob.send(`ca-${tag}`, 'yes', undefined, { replyTo: first.messageId, expiresIn: 60 });
    const m2 = await recv(alice);
    eq([m2.kind, m2.text, m2.replyTo, m2.expiresIn, m2.contentType], ['text', 'yes', first.messageId, 60, 3]);
    eq(sp.expiresAt(m2.sentAt, m2.receivedAt, 60), Math.min(m2.sentAt, m2.receivedAt) + 60);
    // A clock an hour ahead does not stretch it.
    eq(sp.expiresAt(m2.receivedAt + 3600, m2.receivedAt, 60), m2.receivedAt + 60);
    await throwsCode(() => bob.send(`ca-${tag}`, 'x', undefined, { expiresIn: 1 }), 'INVALID_ARGUMENT');
    await throwsCode(() => bob.send(`ca-${tag}`, 'x', undefined, { replyTo: 'nope' }), 'INVALID_ARGUMENT');
  });

  test('content: edits and deletions apply only from the author; reactions from either; a stranger cannot reach in', async () => {
    const sent = await alice.send(`cb-${tag}`, 'teh plan');
    const original = await recv(bob);
    const target = stored(original);
    await alice.edit(`cb-${tag}`, sent.messageId, 'the plan');
    const edit = await recv(bob);
    eq([edit.kind, edit.target, edit.newText, edit.text], ['edit', sent.messageId, 'the plan', undefined]);
    eq(sp.checkAmendment(edit, target), 'apply');
    // The edit before its text (a reordering relay): held, not lost.
    eq(sp.checkAmendment(edit, undefined), 'hold');
    // Bob edits Alice's message: Alice's device refuses it.
    await bob.edit(`ca-${tag}`, sent.messageId, 'bob was here');
    const forged = await recv(alice);
    eq(sp.checkAmendment(forged, { author: alice.userId, conversation: bob.userId, sentAt: original.sentAt, isText: true, deleted: false }), 'AMEND_NOT_AUTHOR');
    // Carol learned the id and tells Bob to delete it: another conversation.
    await carol.deleteForEveryone(`cb-${tag}`, sent.messageId);
    const stranger = await recv(bob);
    eq([stranger.kind, stranger.conversation], ['delete', carol.userId]);
    eq(sp.checkAmendment(stranger, target), 'AMEND_OTHER_CONVERSATION');
    // Bob reacts: applies on Alice's side; then Alice deletes for everyone; later edits are refused.
    await bob.react(`ca-${tag}`, sent.messageId, '👍');
    const like = await recv(alice);
    eq([like.kind, like.emoji], ['reaction', '👍']);
    const mine = { author: alice.userId, conversation: bob.userId, sentAt: original.sentAt, isText: true, deleted: false };
    eq(sp.checkAmendment(like, mine), 'apply');
    await alice.deleteForEveryone(`cb-${tag}`, sent.messageId);
    const del = await recv(bob);
    eq(sp.checkAmendment(del, target), 'apply');
    eq(sp.checkAmendment(edit, { ...target, deleted: true }), 'AMEND_DELETED');
    await throwsCode(() => alice.react(`cb-${tag}`, sent.messageId, 'x'.repeat(33)), 'TOO_LARGE');
    await throwsCode(() => alice.edit(`cb-${tag}`, 'zz', 'x'), 'INVALID_ARGUMENT');
    await throwsCode(() => alice.edit(`cb-${tag}`, sent.messageId, ''), 'INVALID_ARGUMENT');
  });

  test('content: read receipts, typing and the conversation timer', async () => {
    const sent = await alice.send(`cb-${tag}`, 'read me');
    const m = await recv(bob);
    await bob.markRead(`ca-${tag}`, [m.msgId]);
    const read = await recv(alice);
    eq([read.kind, read.targets], ['read', [sent.messageId]]);
    const mine = { author: alice.userId, conversation: bob.userId, sentAt: m.sentAt, isText: true, deleted: false };
    eq(sp.readApplies(read, mine), true);
    // A read receipt never marks the reader's own messages.
    eq(sp.readApplies(read, { ...mine, author: bob.userId }), false);
    await bob.setTyping(`ca-${tag}`, true);
    const typing = await recv(alice);
    eq([typing.kind, typing.active], ['typing', true]);
    assert(sp.typingFresh(typing.sentAt, typing.receivedAt), 'fresh');
    assert(!sp.typingFresh(typing.sentAt, typing.sentAt + 16), 'stale after 15 s');
    const set = await alice.setDisappearing(`cb-${tag}`, 3600);
    const timer = await recv(bob);
    eq([timer.kind, timer.expiresIn], ['timer', 3600]);
    // The sender learns the stamp its recipients compare (PROTOCOL.md 28.3), no guess.
    eq([set.messageId, set.sentAt], [timer.msgId, timer.sentAt]);
    await alice.setDisappearing(`cb-${tag}`, 0);
    eq((await recv(bob)).expiresIn, 0);
    await throwsCode(() => alice.setDisappearing(`cb-${tag}`, 2), 'INVALID_ARGUMENT');
    await throwsCode(() => alice.markRead(`cb-${tag}`, []), 'TOO_LARGE');
  });

  test('content: log out', async () => {
    await Promise.all([alice.logout(), bob.logout(), carol.logout()]);
  });
}
