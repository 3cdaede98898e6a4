// Conversation features in Debian's headless Chromium: a reply 200 messages
// after its original shows the quote and clicking it jumps to the original
// (older history pages loaded); search finds a word 500 messages back and
// jumps to it; Reply / Escape / send from the page; Copy; an image's caption
// is the composer text; a 4000x3000 image is resized before upload, and sent
// as is with "Original" ticked. Prints the uploaded URLs for the Python side.
//   node chat_conv.mjs PORT ROOM ARTIFACT_DIR ORIGINAL_ID SEARCH_ID IMAGE_PATH
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, room, artifacts, originalId, searchId, imagePath] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
const check = (ok, what) => { if (!ok) throw new Error(what); };

async function open(who, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  p.on('pageerror', (e) => { console.log('page error: ' + e.message); });
  await p.goto(`${base}/chat/${room}?username=${who}`);
  await p.waitForSelector('#state.online');
  return p;
}

// Is the message with this id shown inside the visible part of the log?
const inView = (p, id) => p.evaluate((id) => {
  const m = document.querySelector(`.msg[data-id="${id}"]`), log = document.getElementById('log');
  if (!m) return false;
  const a = m.getBoundingClientRect(), b = log.getBoundingClientRect();
  return a.bottom > b.top && a.top < b.bottom;
}, id);

let failed = false;
try {
  const alice = await open('alice', { width: 1440, height: 900 });

  // the newest message replies to one 200 messages back, not on the page yet
  check(!(await alice.$(`.msg[data-id="${originalId}"]`)), 'the original is already shown');
  const quote = alice.locator(`.msg .quote[data-id="${originalId}"]`);
  await quote.waitFor();
  check((await quote.textContent()).includes('the original, two hundred back'), 'quote text');
  check((await quote.getAttribute('title')).includes('carol'), 'quote title');
  await quote.click();
  await alice.waitForFunction((id) => document.body.dataset.jumped === id, originalId);
  check(await inView(alice, originalId), 'the original is not scrolled into view');
  check(await alice.$eval(`.msg[data-id="${originalId}"]`, (e) => e.classList.contains('flash')), 'no highlight');
  await alice.screenshot({ path: path.join(artifacts, 'conv-reply-jump.png') });

  // search: the page's box, keyboard only; a hit jumps to a message 500 back
  await alice.reload();
  await alice.waitForSelector('#state.online');
  await alice.focus('#search-open');
  await alice.keyboard.press('Enter');
  check(await alice.evaluate(() => document.activeElement.id === 'search-q'), 'search box not focused');
  check(await alice.$eval('label[for="search-q"]', (e) => e.textContent.trim().length > 0), 'search box unlabelled');
  await alice.keyboard.type('Quokka');
  await alice.keyboard.press('Enter');
  const hit = alice.locator(`#search-hits .hit[data-id="${searchId}"]`);
  await hit.waitFor();
  check((await alice.locator('#search-hits .hit').count()) === 1, 'one hit expected');
  await alice.screenshot({ path: path.join(artifacts, 'conv-search-hits.png') });
  await hit.focus();
  await alice.keyboard.press('Enter');
  await alice.waitForFunction((id) => document.body.dataset.jumped === id, searchId);
  check(await inView(alice, searchId), 'the search hit is not scrolled into view');
  await alice.screenshot({ path: path.join(artifacts, 'conv-search-jump.png') });
  await alice.focus('#search-q');
  await alice.keyboard.press('Escape');
  check(await alice.locator('#search').isHidden(), 'Escape leaves search open');

  // reply from the page: Escape cancels, then a real one carries the quote
  const bob = await open('bob', { width: 390, height: 844 });
  const last = bob.locator('.msg[data-seq]').last();
  const lastId = await last.getAttribute('data-id');
  await last.locator('button.reply').click();
  check(await bob.locator('#reply-bar').isVisible(), 'no reply bar');
  await bob.keyboard.press('Escape');
  check(await bob.locator('#reply-bar').isHidden(), 'Escape does not cancel the reply');
  await last.locator('button.reply').click();
  check((await bob.textContent('#reply-bar')).includes('Replying to bob'), 'reply bar text');
  await bob.screenshot({ path: path.join(artifacts, 'conv-replying-bob.png') });
  await bob.fill('#text', 'answering from the page');
  await bob.keyboard.press('Enter');
  const mine = alice.locator('.msg:has-text("answering from the page")');
  await mine.locator(`.quote[data-id="${lastId}"]`).waitFor();
  check(await bob.locator('#reply-bar').isHidden(), 'reply bar stays after sending');

  // Copy puts the message's text on the clipboard
  await mine.locator('button.copy').click();
  await alice.waitForFunction(() => navigator.clipboard.readText().then((t) => t === 'answering from the page'));

  // an image with a caption, resized before upload
  await bob.fill('#text', 'a caption typed with the image');
  await bob.setInputFiles('#file', imagePath);
  const img = alice.locator('.msg:has-text("a caption typed with the image") img.thumb');
  await img.waitFor();
  console.log('RESIZED ' + await img.getAttribute('src'));
  check((await bob.inputValue('#text')) === '', 'the caption stays in the composer');
  await alice.waitForFunction(() => [...document.querySelectorAll('img.thumb')].every((i) => i.complete));
  await img.evaluate((e) => e.closest('.msg').scrollIntoView({ block: 'center' }));
  await alice.screenshot({ path: path.join(artifacts, 'conv-image-caption.png') });

  // "Original" ticked: the file as chosen
  const before = await alice.locator('img.thumb').count();
  await bob.check('#orig');
  await bob.setInputFiles('#file', imagePath);
  await alice.waitForFunction((n) => document.querySelectorAll('img.thumb').length > n, before);
  console.log('ORIGINAL ' + await alice.locator('img.thumb').last().getAttribute('src'));

  // the language switch relabels these controls too
  await bob.click('#lang');
  check((await bob.textContent('#search-open')) === '搜索' && (await bob.getAttribute('#search-open', 'aria-label')) === '搜索消息', 'search button not relabelled');
  check((await bob.locator('.msg .tools button.reply').last().textContent()) === '回复', 'Reply not relabelled');
  await bob.click('#lang');
  check((await bob.textContent('#search-open')) === 'Search', 'search button not relabelled back');

  for (const [p, who] of [[alice, 'alice'], [bob, 'bob']]) {
    const over = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await p.screenshot({ path: path.join(artifacts, `conv-${who}.png`) });
    check(!over, `horizontal scrolling for ${who}`);
  }
  console.log('chat conv: ok');
} catch (e) {
  failed = true;
  console.log('FAILED: ' + (e.stack || e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
