// The chat page in Debian's headless Chromium: two users chat both ways, an
// XSS corpus stays inert, layouts at phone and desktop sizes do not scroll
// sideways. Screenshots go to ARTIFACT_DIR.
//   node chat_page.mjs PORT ROOM ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, room, artifacts, secret] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
const XSS = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=1">',
  '[click](javascript:window.__pwned=1)',
  '<a href="javascript:window.__pwned=1">a</a>',
  '**<svg onload=window.__pwned=1>**',
  '```\n<script>window.__pwned=1</script>\n```',
  '<iframe src="javascript:window.__pwned=1"></iframe>',
];
let failed = false;
try {
  const pages = {};
  for (const [who, vp] of [['alice', { width: 1440, height: 900 }], ['bob', { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ viewport: vp });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15000);
    p.on('dialog', async (d) => { await d.dismiss(); throw new Error('a dialog opened: ' + d.message()); });
    await p.goto(`${base}/chat/${room}?username=${who}`);
    await p.waitForSelector('#state.online');
    pages[who] = p;
  }
  const { alice, bob } = pages;
  // both ways, rendered Markdown
  await alice.fill('#text', 'hello **bob**, see https://example.com/x');
  await alice.press('#text', 'Enter');
  await bob.waitForSelector('.msg:has-text("hello bob")');
  if (!(await bob.$('.msg strong'))) throw new Error('Markdown bold not rendered');
  const link = await bob.$('.msg a[href="https://example.com/x"]');
  if (!link || (await link.getAttribute('target')) !== '_blank' || !(await link.getAttribute('rel')).includes('noopener')) {
    throw new Error('link not opened safely in a new tab');
  }
  await bob.fill('#text', 'hi alice');
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('.msg:has-text("hi alice")');
  // XSS corpus: posted by bob, rendered inert for alice
  for (const x of XSS) {
    await bob.fill('#text', x);
    await bob.press('#text', 'Enter');
  }
  await alice.waitForFunction((n) => document.querySelectorAll('.msg[data-seq]').length >= n, XSS.length + 2);
  const bad = await alice.evaluate(() => ({
    pwned: window.__pwned === 1,
    scripts: document.querySelectorAll('#log script, #log iframe, #log .body svg, #log img:not(.thumb)').length,
    jsLinks: [...document.querySelectorAll('#log a')].filter((a) => !/^https?:/.test(a.getAttribute('href'))).length,
    handlers: [...document.querySelectorAll('#log *')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
  }));
  if (bad.pwned || bad.scripts || bad.jsLinks || bad.handlers) throw new Error('XSS not inert: ' + JSON.stringify(bad));
  // the corpus is shown as text
  await alice.waitForSelector('.msg:has-text("<script>window.__pwned=1</script>")');
  // an image picked by alice reaches bob with a preview and a full-size viewer
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGUlEQVR4nGP8z4APMOGVZRiVHpUelR6VBgBGJAEfZ3nHlQAAAABJRU5ErkJggg==', 'base64');
  await alice.setInputFiles('#file', { name: 'chart.png', mimeType: 'image/png', buffer: png });
  const thumb = await bob.waitForSelector('.msg img.thumb[src^="/chat/files/"]');
  await bob.waitForFunction((img) => img.complete && img.naturalWidth === 16, thumb);
  await thumb.click();
  await bob.waitForSelector('#viewer:not([hidden]) img[src^="/chat/files/"]');
  await bob.screenshot({ path: path.join(artifacts, 'chat-image-viewer.png') });
  await bob.click('#viewer');

  // older history loads when scrolling up (60 messages posted through the admin API)
  const older = room + 'h';
  const api = (method, p, body) => fetch(`${base}/chat-admin/api${p}`, {
    method, headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  await api('POST', `/rooms/${older}/members`, { username: 'alice' });
  for (let i = 0; i < 60; i++) await api('POST', `/rooms/${older}/messages`, { text: `old ${i}` });
  const pager = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  pager.setDefaultTimeout(15000);
  await pager.goto(`${base}/chat/${older}?username=alice`);
  await pager.waitForSelector('.msg:has-text("old 59")');
  if ((await pager.$$('.msg[data-seq]')).length !== 20) throw new Error('welcome should show 20');
  for (let i = 0; i < 5; i++) {
    const before = (await pager.$$('.msg[data-seq]')).length;
    if (before >= 60) break;
    await pager.evaluate(() => { document.getElementById('log').scrollTop = 0; });
    await pager.waitForFunction((n) => document.querySelectorAll('.msg[data-seq]').length > n, before);
  }
  const texts = await pager.$$eval('.msg[data-seq] .body', (els) => els.map((e) => e.textContent));
  if (texts.length !== 60 || texts[0] !== 'old 0' || texts[59] !== 'old 59') {
    throw new Error(`paging gave ${texts.length} messages, first ${texts[0]}`);
  }

  // token identity: no name prompt, the token goes along to the socket
  const tok = await (await api('POST', '/tokens', { username: 'alice', ttl: 120 })).json();
  const tpage = await (await browser.newContext()).newPage();
  tpage.setDefaultTimeout(15000);
  tpage.on('dialog', async (d) => { await d.dismiss(); failed = true; console.error('token page prompted'); });
  await tpage.goto(`${base}/tchat/${older}?token=${encodeURIComponent(tok.token)}`);
  await tpage.waitForSelector('#state.online');
  await tpage.waitForSelector('.msg:has-text("old 59")');
  // a room that is not active: a clear refusal, no reconnect loop
  await tpage.goto(`${base}/chat/${room}inactive?username=alice`);
  await tpage.waitForSelector('#state.failed');
  await tpage.waitForSelector('#banner:not([hidden])');
  if (!/not active|not a member|inactive/i.test(await tpage.textContent('#banner'))) {
    throw new Error('inactive room banner: ' + await tpage.textContent('#banner'));
  }

  // no horizontal scrolling at phone and desktop sizes
  for (const [who, p] of Object.entries(pages)) {
    const over = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth ||
      document.getElementById('log').scrollWidth > document.getElementById('log').clientWidth);
    await p.screenshot({ path: path.join(artifacts, `chat-${who}.png`) });
    if (over) throw new Error(`horizontal scrolling for ${who}`);
  }
  console.log('chat page: ok');
} catch (e) {
  failed = true;
  console.error('chat page: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
