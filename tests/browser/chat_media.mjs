// Voice notes, images dropped and pasted, calls and the rest of the room UI in Debian's headless
// Chromium with its fake camera and microphone: a recorded voice note plays
// for the other user; a video call reaches RTCPeerConnection "connected" on
// both pages with frames flowing; a declined call says so; delete, presence,
// join/leave notices, unread count and notifications, theme and language.
//   node chat_media.mjs PORT ROOM ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, room, artifacts] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium([
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // host candidates as plain loopback addresses: no mDNS resolver here
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]);
const check = (ok, what) => { if (!ok) throw new Error(what); };

async function open(who, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  await ctx.grantPermissions(['microphone', 'camera', 'notifications'], { origin: base });
  // record the notifications the page raises (the real Notification is kept)
  await ctx.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, opts) { super(title, opts); window.__notes.push(title + ': ' + ((opts && opts.body) || '')); }
    };
  });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  p.on('dialog', async (d) => { await d.dismiss(); throw new Error('a dialog opened: ' + d.message()); });
  await p.goto(`${base}/chat/${room}?username=${who}`);
  await p.waitForSelector('#state.online');
  return p;
}

let failed = false;
try {
  const alice = await open('alice', { width: 1440, height: 900 });
  const bob = await open('bob', { width: 390, height: 844 });
  // presence: each sees the other with call buttons
  await alice.waitForSelector('#user-list li[data-user="bob"] button.call-video');
  await bob.waitForSelector('#user-list li[data-user="alice"] button.call-audio', { state: 'attached' });

  // join/leave notices
  const carol = await open('carol', { width: 1000, height: 700 });
  await alice.waitForSelector('.msg.sys:has-text("carol joined")');
  await carol.context().close();
  await alice.waitForSelector('.msg.sys:has-text("carol left")');
  await alice.waitForFunction(() => !document.querySelector('#user-list li[data-user="carol"]'));

  // a voice note: recorded from the fake microphone, played by bob
  await alice.click('#record');
  await alice.waitForFunction(() => +document.getElementById('record').dataset.bytes > 1000);
  await alice.click('#record');
  const audio = await bob.waitForSelector('.msg audio[src^="/chat/files/"]');
  const played = await bob.evaluate((a) => new Promise((resolve, reject) => {
    a.addEventListener('timeupdate', () => { if (a.currentTime > 0) resolve(a.currentTime); });
    a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))));
    a.play().catch(reject);
  }), audio);
  check(played > 0, 'the voice note did not play');

  // an image dropped on the message list, and one pasted: both reach bob
  for (const how of ['drop', 'paste']) {
    const before = (await bob.$$('.msg img.thumb')).length;
    await alice.evaluate(async (how) => {
      const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([png], how + '.png', { type: 'image/png' }));
      if (how === 'drop') {
        document.getElementById('log').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      } else {
        document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }
    }, how);
    await bob.waitForFunction((n) => document.querySelectorAll('.msg img.thumb').length > n, before);
  }

  // delete own message: gone for the other user
  await alice.fill('#text', 'a message to delete');
  await alice.press('#text', 'Enter');
  await bob.waitForSelector('.msg:has-text("a message to delete")');
  await alice.click('.msg.own:has-text("a message to delete") button.del');
  await bob.waitForFunction(() => ![...document.querySelectorAll('.msg .body')].some((b) => b.textContent === 'a message to delete'));

  // unread count and a notification while bob's tab is hidden
  await bob.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await alice.fill('#text', 'are you there?');
  await alice.press('#text', 'Enter');
  await bob.waitForFunction(() => document.title.startsWith('(1) '));
  check((await bob.evaluate(() => window.__notes)).includes('alice: are you there?'), 'no notification');
  await bob.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await bob.waitForFunction(() => !document.title.startsWith('('));

  // Chinese and English, light and dark
  await bob.click('#lang');
  check((await bob.textContent('#send')) === '发送', 'no Chinese UI');
  await bob.click('#lang');
  check((await bob.textContent('#send')) === 'Send', 'no English UI');
  const dark = await bob.evaluate(() => document.documentElement.classList.contains('dark'));
  await bob.click('#theme');
  check((await bob.evaluate(() => document.documentElement.classList.contains('dark'))) === !dark, 'theme did not switch');

  // a declined audio call
  await alice.click('#user-list li[data-user="bob"] button.call-audio');
  await bob.waitForSelector('#call:not([hidden]) #call-decline:not([hidden])');
  await bob.click('#call-decline');
  await alice.waitForSelector('#banner:has-text("declined")');
  await alice.waitForSelector('#call', { state: 'hidden' });

  // a video call: ring, accept, connected on both sides, frames arrive
  await alice.click('#user-list li[data-user="bob"] button.call-video');
  await bob.waitForSelector('#call:not([hidden]) #call-accept:not([hidden])');
  check((await bob.textContent('#call-title')).includes('alice'), 'the ring does not name the caller');
  await bob.click('#call-accept');
  for (const p of [alice, bob]) {
    await p.waitForFunction(() => window.chatCalls.pc() && window.chatCalls.pc().connectionState === 'connected');
    await p.waitForFunction(() => document.getElementById('remote-video').videoWidth > 0);
    await p.waitForSelector('#call-state:has-text("connected")');
  }
  await alice.screenshot({ path: path.join(artifacts, 'call-alice.png') });
  await bob.screenshot({ path: path.join(artifacts, 'call-bob.png') });
  await alice.click('#call-hangup');
  await bob.waitForSelector('#call', { state: 'hidden' });
  await bob.waitForSelector('#banner:has-text("ended")');
  check((await bob.evaluate(() => window.chatCalls.active())) === false, 'the call lingers');
  console.log('chat media: ok');
} catch (e) {
  failed = true;
  console.error('chat media: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
