// Compile-only check of the package's TypeScript declarations (scripts/test.mjs runs tsc on it).
import { init, fileInfo, FileEncryptor, FileDecryptor, type AttachmentInfo, type FileProgress, type FileLimits, Client, MemoryStorage, Identity, DeviceKeys, DeviceList, DeviceBundle, SessionStore, PendingInit, BackupKeys, exportBackup, importBackup, type OpenedMessage, type SealedEnvelope, type DeviceEntry, type SessionInfo, type SealpostError, type IncomingMessage, type DeviceInfo, type NoticeEvent, type DeliveryEvent, type GroupInfo, createRoom, joinRoom, type Room, type RoomEvent } from 'sealpost-wasm';
import { RemoteClient } from 'sealpost-wasm/remote';
import { serveClient } from 'sealpost-wasm/worker';
import { attachDirect } from 'sealpost-wasm/direct';
import { attachCalls, type CallUpdate } from 'sealpost-wasm/calls';
import { attachRoomVoice, type RoomVoiceEvent, type RoomVoiceErrorCode } from 'sealpost-wasm/roomvoice';

async function main() {
  await init();
  const c: Client = await Client.login({ relayUrl: '', storage: new MemoryStorage(), keySize: 2048, takeOver: true, bundleMaxAge: 0, requestTimeout: 5000, clock: () => Date.now() }, 'alice', 'pw');
  c.onMessage((m: IncomingMessage) => console.log(m.text, m.verified));
  const r = await c.send('bob', 'hi');
  const s: string = r.messageId;
  for await (const m of c.messages()) console.log(m.from);
  // Direct channels: the page hosts WebRTC for a Client or a RemoteClient.
  const host = attachDirect(c, { iceServers: [] });
  c.onDirect((e) => {
    if (e.type === 'state') console.log(e.user, e.state === 'direct', e.error);
  });
  c.connectDirect('bob');
  host.close();
  // Voice calls: the page hosts the microphone and the peer connection.
  const calls = attachCalls(c, { iceServers: await c.iceServers() });
  calls.onCall((u: CallUpdate) => console.log(u.call, u.state, u.reason === 'CALL_MISSED', u.duration, u.error === 'CALL_NO_MICROPHONE'));
  // Servers asked per connection (TURN credentials expire).
  attachCalls(c, { iceServers: () => c.iceServers() });
  const callId: string = await calls.call('bob');
  await calls.accept(callId);
  const muted: boolean = calls.mute(true);
  await calls.hangUp(callId);
  console.log(muted, (await calls.stats()).bytesReceived);
  // Crypto level (protocol v2 without the network).
  const id = Identity.generate('x', 2048, (d, t) => console.log(d, t));
  const dev = DeviceKeys.generate(id);
  const entry: DeviceEntry = { id: dev.deviceId, name: 'Laptop', addedAt: 1 };
  const list = DeviceList.create(id, [entry]);
  const bundle: DeviceBundle = DeviceBundle.fromBytes(dev.bundle(id).toBytes());
  list.checkBundle(bundle);
  const st = new SessionStore();
  const sealed: SealedEnvelope = st.seal(id, dev, bundle, 'x');
  const opening = st.open(dev, sealed.envelope);
  const o: OpenedMessage = opening.kind === 'pending' ? st.accept(opening, true) : opening;
  const p: PendingInit | null = opening.kind === 'pending' ? opening : null;
  const k: 'message' = o.kind;
  const infos: SessionInfo[] = st.sessions();
  const bk = BackupKeys.create('password', id.userId);
  const restored = importBackup('x', exportBackup(id, bk, new Uint8Array(1)), bk);
  const rid: Identity = restored.identity;
  console.log(p, infos, rid, o.payload, list.devices()[0].name);
  try { DeviceBundle.fromBytes(new Uint8Array()); } catch (e) { const err = e as SealpostError; if (err.code === 'MALFORMED') {} }
  const rc = await RemoteClient.login(new Worker(''), { relayUrl: '' }, 'a', 'b');
  attachDirect(rc);
  const info = await rc.lookup('bob');
  const qr: Uint8Array = info.qrPayload;
  const same: boolean = await rc.matchesQr('bob', qr);
  const again = await rc.send('bob', 'hi', undefined, { idempotencyKey: 'k1' });
  const local: Uint8Array = await rc.openLocal('h', await rc.sealLocal('h', new Uint8Array(1)));
  const n: number = await rc.call<number>('count', 1);
  // Staying unlocked across reloads: the keys sealed under a non-extractable CryptoKey.
  const wrapKey: CryptoKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const kept: Uint8Array = await c.exportSession(wrapKey);
  const resumed: Client = await Client.resume({ relayUrl: '', storage: new MemoryStorage() }, 'alice', wrapKey, kept);
  const rresumed: RemoteClient = await RemoteClient.resume(new Worker(''), {}, 'a', wrapKey, await rc.exportSession(wrapKey));
  console.log(resumed.userId, rresumed.userId);
  await RemoteClient.removeAccount(new Worker(''), 'a');
  const pre: string = await RemoteClient.call<string>(new Worker(''), 'ids', 'a');
  await Client.removeAccount(new MemoryStorage(), 'alice');
  const matched: boolean = c.matchesQr('bob', qr);
  console.log(info.safetyNumber, s, k, same, again.delivered, again.total, local, n, pre, matched);
  // Protocol v2: devices, linking, delivery and notices.
  c.onMessage((m: IncomingMessage) => console.log(m.msgId, m.fromDevice, m.conversation, m.own));
  c.onDelivery((d: DeliveryEvent) => console.log(d.messageId, d.delivered, d.total));
  c.onNotice((x: NoticeEvent) => { if (x.kind === 'mayBeMissing') console.log(x.count); if (x.kind === 'couldNotDecrypt' && x.gaveUp === false) console.log(x.blobId); });
  const devices: DeviceInfo[] = await c.devices();
  await c.revokeDevice(devices[0].id);
  await Client.revokeDeviceWithPassword({ relayUrl: '' }, 'alice', 'pw', devices[0].id);
  const link = await Client.startLink({ relayUrl: '', storage: new MemoryStorage(), password: 'pw' }, 'Laptop');
  const onlySets = { get: async (_k: string) => undefined, set: async (_k: string, _v: Uint8Array) => {}, delete: async (_k: string) => {} };
  // @ts-expect-error a storage without setMany (all or none) is refused
  await Client.startLink({ relayUrl: '', storage: onlySets, password: 'pw' }, 'Laptop');
  const code: string = link.code;
  const linked: Client = await link.wait();
  const history: Uint8Array | undefined = await linked.takeLinkedHistory();
  const approval = await c.approveLink(code);
  const name: string = approval.deviceName;
  await approval.confirm({ history: new Uint8Array(2) });
  const rlink = await RemoteClient.startLink(new Worker(''), { password: 'pw' }, 'Phone');
  const rc2: RemoteClient = await rlink.wait();
  const ra = await rc2.approveLink(rlink.code);
  await ra.confirm();
  const rd: DeviceInfo[] = await rc2.devices();
  rc2.onNotice((x) => console.log(x.detail));
  console.log(history, name, rd);
  // Files.
  const abort = new AbortController();
  const sentFile = await c.sendFile(['bob', 'carol'], new Blob([]), { onProgress: (p: FileProgress) => console.log(p.done, p.total, p.waiting), signal: abort.signal, thumbnail: { mediaType: 'image/jpeg', bytes: new Uint8Array(1) } });
  const fi: AttachmentInfo = fileInfo(sentFile.manifest);
  const blob: Blob = await c.openAttachment(sentFile.manifest, { onProgress: (p) => console.log(p.done) });
  const streamed: Uint8Array = await c.uploadFile(new Blob([]).stream(), { size: 0, name: 'x' });
  const lim: FileLimits = await rc.fileLimits();
  const rblob: Blob = await rc.openAttachment(new Uint8Array(), { signal: abort.signal });
  const rsent = await rc.sendFile('bob', new Blob([]), {});
  const rinfo: AttachmentInfo = await rc.fileInfo(rsent.manifest);
  const reply = await c.sendFile('bob', new Blob([]), { replyTo: 'ab'.repeat(16), expiresIn: 30 });
  const grp: { manifest: Uint8Array; messageId: string } = await rc.sendFileToGroup('cd'.repeat(16), new Blob([]), { onProgress: (p) => console.log(p.done) });
  const ggrp = await c.sendFileToGroup('cd'.repeat(16), new Blob([]), { fileKey: new Uint8Array(32), resume: true });
  const digest: Uint8Array = await rc.fileDigest(new Blob([]), { signal: abort.signal });
  await c.sendFile('bob', new Blob([]), { fileKey: new Uint8Array(32), resume: true, sha256: await c.fileDigest(new Blob([])), idempotencyKey: 'k' });
  c.onMessage(async (m) => {
    if (m.kind === 'file') console.log(fileInfo(m.manifest!).name, await c.openAttachment(m));
  });
  console.log(reply.sent, grp.messageId, ggrp.manifest);
  const fenc = new FileEncryptor(10);
  fenc.write(new Uint8Array(10));
  const chunk: Uint8Array | undefined = fenc.nextChunk();
  const manifest: Uint8Array = fenc.finish('a.txt', 'text/plain', undefined, undefined, 5);
  const fdec = new FileDecryptor(manifest);
  if (chunk) fdec.openChunk(chunk.subarray(32));
  fdec.finish();
  // Groups: the same calls on a Client and a RemoteClient.
  const gid: string = await c.createGroup('friends', ['bob']);
  await c.addMembers(gid, ['carol']);
  await c.promoteAdmin(gid, 'carol');
  await c.demoteAdmin(gid, 'carol');
  await c.removeMembers(gid, ['carol']);
  await c.renameGroup(gid, 'best friends');
  const gm: string = await c.sendToGroup(gid, 'hi');
  const gk: string = await c.sendToGroup(gid, 'hi', 1, { idempotencyKey: 'k' });
  const gs: GroupInfo[] = c.groups();
  await c.leaveGroup(gid);
  const rgid: string = await rc.createGroup('friends', ['bob']);
  await rc.addMembers(rgid, ['carol']);
  await rc.promoteAdmin(rgid, 'carol');
  await rc.demoteAdmin(rgid, 'carol');
  await rc.removeMembers(rgid, ['carol']);
  await rc.renameGroup(rgid, 'x');
  const rgm: string = await rc.sendToGroup(rgid, new Uint8Array(1), 0, { idempotencyKey: 'k' });
  const rgs: GroupInfo[] = await rc.groups();
  await rc.leaveGroup(rgid);
  c.onNotice((x) => { if (x.kind === 'groupChanged') console.log(x.change, x.members, x.epoch); if (x.kind === 'groupRefused') console.log(x.code); });
  console.log(gm, gs[0].members[0].admin, rgm, rgs.length);
  console.log(fi.thumbnail?.bytes, blob.size, streamed, lim.maxFileBytes, lim.chunkTtlSecs, rblob, rinfo.name, sentFile.sent[0].error, fdec.nextAddress());
}
async function rooms(relayUrl: string): Promise<void> {
  const seen: RoomEvent[] = [];
  const host: Room = await createRoom(relayUrl, { onEvent: (e) => seen.push(e) });
  const code: string | undefined = host.code;
  const guest = await joinRoom(relayUrl, code ?? '', {
    onEvent: (e) => {
      if (e.event === 'text') console.log(e.from, e.text, e.private);
      if (e.event === 'refused') console.log(e.reason);
      if (e.event === 'closed') console.log(e.code);
      if (e.event === 'unreached') console.log(e.member, e.via);
    },
  });
  guest.setName('Bea');
  guest.sendText('hi');
  guest.sendText('psst', 1);
  guest.sendSignal(1, '{}');
  const me: number | undefined = guest.me;
  const all: number[] = guest.members;
  const hidden: number[] = guest.unreached;
  console.log(host.link('https://app.example/'), me, all, hidden, host.nameplate, seen.length);
  // Voice: the room's events go to the voice too.
  const heard: RoomVoiceEvent[] = [];
  const voice = attachRoomVoice(guest, { iceServers: async () => [], onEvent: (e) => heard.push(e) });
  seen.forEach((e) => voice.handle(e));
  await voice.start().catch((e: { code?: RoomVoiceErrorCode }) => console.log(e.code));
  const muted: boolean = voice.mute(true);
  for (const s of await voice.stats()) console.log(s.member, s.bytesSent, s.bytesReceived);
  for (const p of voice.peers()) console.log(p.member, p.state === 'connected');
  for (const e of heard) if (e.event === 'refused') console.log(e.from, e.reason);
  voice.stop();
  console.log(voice.on, voice.muted, muted);
  guest.leave();
  host.leave();
}
void rooms;
serveClient({} as any);
serveClient({ methods: { count: (client: Client | null, x: number) => (client ? x : 0) } });
main();
