import { RemoteClient } from 'sealpost-wasm/remote';

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./sealpost.worker.js', import.meta.url), { type: 'module' });
let client = null;

function show(line) {
  $('log').textContent += `${line}\n`;
}

$('account').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const action = ev.submitter?.name === 'register' ? RemoteClient.register : RemoteClient.login;
  $('status').textContent = 'working…';
  try {
    client = await action(worker, {
      keySize: Number(new URLSearchParams(location.search).get('keySize') ?? 4096),
      onProgress: (done, total) => ($('status').textContent = `generating keys ${done}/${total}…`),
    }, $('username').value, $('password').value);
    client.onStatus((s) => ($('status').textContent = `${client.username}: ${s}`));
    client.onError((e) => show(`! ${e.code}: ${e.message}`));
    client.onMessage((m) => show(`${m.fromUsername ?? m.from.slice(0, 8)}${m.verified ? '' : ' (unverified)'}: ${m.text ?? '[binary]'}`));
    $('status').textContent = `${client.username}: ${client.status}`;
    $('account').hidden = true;
    $('compose').hidden = false;
  } catch (e) {
    $('status').textContent = `error ${e.code ?? ''}: ${e.message}`;
  }
});

$('compose').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await client.send($('to').value, $('text').value);
    show(`me → ${$('to').value}: ${$('text').value}`);
    $('text').value = '';
  } catch (e) {
    show(`! ${e.code}: ${e.message}`);
  }
});
