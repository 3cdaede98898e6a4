// Icons, keyboard and accessibility of the chat page and the call overlay in
// Debian's headless Chromium:
//  - glyphs: no control (button, option, select, role=button) shows a
//    character the installed fonts lack (each character is drawn on a canvas
//    in the control's font and compared with an unassigned code point, which
//    every font draws as the "missing glyph" box);
//  - keyboard: Tab reaches every visible control, each has a name;
//  - axe-core (tests/browser/node_modules/axe-core): 0 serious/critical
//    violations on the chat page (desktop, phone, dark, users panel open)
//    and with the call overlay open (ringing, calling, connected);
//  - no horizontal scroll at 390x844 and 1440x900, overlay open or not.
//   node chat_a11y.mjs PORT ROOM ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [port, room, artifacts] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const browser = await launchChromium([
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]);
const check = (ok, what) => { if (!ok) throw new Error(what); };

async function open(who, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  await ctx.grantPermissions(['microphone', 'camera'], { origin: base });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  p.on('dialog', async (d) => { await d.dismiss(); throw new Error('a dialog opened: ' + d.message()); });
  await p.goto(`${base}/chat/${room}?username=${who}`);
  await p.waitForSelector('#state.online');
  return p;
}

// characters of the visible controls' text that the fonts cannot draw
function missingGlyphs(p) {
  return p.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 80; canvas.height = 60;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const draw = (font, ch) => {
      ctx.clearRect(0, 0, 80, 60); ctx.font = font; ctx.textBaseline = 'top'; ctx.fillText(ch, 10, 10);
      return ctx.getImageData(0, 0, 80, 60).data;
    };
    const same = (a, b) => a.every((v, i) => v === b[i]);
    const out = [];
    let seen = 0;
    for (const c of document.querySelectorAll('button, select, option, [role="button"]')) {
      const host = c.tagName === 'OPTION' ? c.parentElement : c;
      const st = getComputedStyle(host);
      const font = `${st.fontStyle} ${st.fontWeight} 32px ${st.fontFamily}`;
      const box = draw(font, '\u0378'); // unassigned: the missing-glyph box
      const text = (c.tagName === 'SELECT' ? '' : c.textContent) +
        [getComputedStyle(c, '::before').content, getComputedStyle(c, '::after').content]
          .filter((s) => s && s !== 'none' && s !== 'normal').join('');
      for (const ch of new Set([...text])) {
        if (/\s/.test(ch) || ch === '"') continue;
        seen++;
        if (same(draw(font, ch), box)) out.push(`${c.id || c.className || c.tagName}: U+${ch.codePointAt(0).toString(16)}`);
      }
    }
    return { missing: out, seen };
  });
}

async function axe(p, what) {
  if (!(await p.evaluate(() => !!window.axe))) await p.evaluate(AXE);
  const r = await p.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(!bad.length, `axe on ${what}: ` + JSON.stringify(bad.map((v) => ({
    id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary).slice(0, 4) }))));
  return r.violations.length;
}

async function noSideScroll(p, what) {
  const over = await p.evaluate(() => {
    const d = document.documentElement, log = document.getElementById('log');
    return { page: d.scrollWidth - window.innerWidth, log: log.scrollWidth - log.clientWidth };
  });
  check(over.page <= 0 && over.log <= 0, `horizontal scroll on ${what}: ${JSON.stringify(over)}`);
}

// Tab from the top of the page until focus comes round again: every visible
// control must be reached, and each must have a name.
async function keyboard(p, what) {
  await p.evaluate(() => {
    document.querySelectorAll('[data-kb]').forEach((e) => e.removeAttribute('data-kb'));
    document.activeElement && document.activeElement.blur();
  });
  const want = await p.evaluate(() => {
    let n = 0;
    for (const e of document.querySelectorAll('button, select, textarea, input, a[href], [tabindex="0"]')) {
      const r = e.getBoundingClientRect();
      if (e.disabled || !r.width || !r.height || getComputedStyle(e).visibility === 'hidden') continue;
      e.dataset.kb = String(++n);
    }
    return n;
  });
  const reached = new Set();
  for (let i = 0; i < want * 2 + 10; i++) {
    await p.keyboard.press('Tab');
    const k = await p.evaluate(() => document.activeElement && document.activeElement.dataset.kb);
    if (k) reached.add(k);
    if (reached.size === want) break;
  }
  const missed = await p.evaluate((got) => [...document.querySelectorAll('[data-kb]')]
    .filter((e) => !got.includes(e.dataset.kb)).map((e) => e.outerHTML.slice(0, 120)), [...reached]);
  check(!missed.length, `${what}: not reachable by Tab: ${JSON.stringify(missed)}`);
  const unnamed = await p.evaluate(() => [...document.querySelectorAll('[data-kb]')].filter((e) =>
    !(e.getAttribute('aria-label') || e.textContent.trim() || e.title || e.placeholder || e.alt ||
      (e.labels && e.labels.length))).map((e) => e.outerHTML.slice(0, 120)));
  check(!unnamed.length, `${what}: controls without a name: ${JSON.stringify(unnamed)}`);
  return want;
}

let failed = false;
try {
  const alice = await open('alice', { width: 1440, height: 900 });
  const bob = await open('bob', { width: 390, height: 844 });
  await alice.waitForSelector('#user-list li[data-user="bob"] button.call-video');
  // a text message each, code, a table, and an image: every kind of control in the log
  await alice.fill('#text', 'hello **bob**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nlet x = 1;\n```');
  await alice.press('#text', 'Enter');
  await bob.fill('#text', 'hi alice, see https://example.com/a');
  await bob.press('#text', 'Enter');
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGUlEQVR4nGP8z4APMOGVZRiVHpUelR6VBgBGJAEfZ3nHlQAAAABJRU5ErkJggg==', 'base64');
  await alice.setInputFiles('#file', { name: 'chart.png', mimeType: 'image/png', buffer: png });
  for (const p of [alice, bob]) {
    await p.waitForSelector('.msg img.thumb');
    await p.waitForSelector('.msg:has-text("hi alice")');
  }

  // the AI "send to" menu is there (the server has a provider) and is checked too
  check((await alice.$$eval('#mode:not([hidden]) option', (os) => os.length)) >= 2, 'no AI menu to check');
  // glyphs: every control's characters exist in the installed fonts
  for (const [who, p] of [['alice', alice], ['bob', bob]]) {
    const g = await missingGlyphs(p);
    check(g.seen > 20, `${who}: only ${g.seen} characters checked`);
    check(!g.missing.length, `${who}: controls show missing glyphs: ${g.missing.join(', ')}`);
  }
  // icon-only controls carry a name; their icons are SVG, not text
  for (const sel of ['#toggle-users', '#theme', '#user-list button.call-audio', '#user-list button.call-video']) {
    const b = await alice.$eval(sel, (e) => ({ name: e.getAttribute('aria-label'), svg: !!e.querySelector('svg.icon'), text: e.textContent.trim() }));
    check(b.name && b.svg && !b.text, `${sel}: ${JSON.stringify(b)}`);
  }

  // keyboard: every control reached by Tab; the thumbnail opens the viewer with Enter, Escape closes it
  const n = await keyboard(alice, 'chat page 1440x900');
  check(n >= 10, `only ${n} controls found`);
  await alice.focus('.msg img.thumb');
  await alice.keyboard.press('Enter');
  await alice.waitForSelector('#viewer:not([hidden])');
  await alice.keyboard.press('Escape');
  await alice.waitForSelector('#viewer', { state: 'hidden' });
  await keyboard(bob, 'chat page 390x844');

  // axe and layout: desktop, phone, phone with the users panel, dark
  await axe(alice, 'chat page 1440x900');
  await noSideScroll(alice, 'chat page 1440x900');
  await alice.screenshot({ path: path.join(artifacts, 'a11y-chat-1440.png') });
  await axe(bob, 'chat page 390x844');
  await noSideScroll(bob, 'chat page 390x844');
  await bob.screenshot({ path: path.join(artifacts, 'a11y-chat-390.png') });
  await bob.click('#toggle-users');
  await bob.waitForSelector('#users', { state: 'visible' });
  await axe(bob, 'users panel 390x844');
  await noSideScroll(bob, 'users panel 390x844');
  await bob.screenshot({ path: path.join(artifacts, 'a11y-users-390.png') });
  await bob.click('#toggle-users');
  await alice.click('#theme');
  await axe(alice, 'chat page, dark');
  await alice.screenshot({ path: path.join(artifacts, 'a11y-chat-dark.png') });
  await alice.click('#theme');

  // the call overlay: bob rings, alice calls, then both connected
  await alice.click('#user-list li[data-user="bob"] button.call-video');
  await bob.waitForSelector('#call:not([hidden]) #call-accept:not([hidden])');
  await alice.waitForSelector('#call:not([hidden]) #call-hangup:not([hidden])');
  // focus moved into the overlay: the caller's on Hang up, the ringing side's on the box
  check(await alice.evaluate(() => document.activeElement.id) === 'call-hangup', 'caller: focus not on Hang up');
  check(await bob.evaluate(() => document.activeElement.id) === 'call', 'callee: focus not in the overlay');
  const g = await missingGlyphs(bob);
  check(!g.missing.length, `call overlay shows missing glyphs: ${g.missing.join(', ')}`);
  await axe(bob, 'call overlay ringing 390x844');
  await noSideScroll(bob, 'call overlay ringing 390x844');
  await bob.screenshot({ path: path.join(artifacts, 'a11y-call-ringing-390.png') });
  await axe(alice, 'call overlay calling 1440x900');
  await noSideScroll(alice, 'call overlay calling 1440x900');
  await bob.focus('#call-accept');
  await bob.keyboard.press('Enter'); // accept by keyboard
  for (const p of [alice, bob]) {
    await p.waitForFunction(() => window.chatCalls.pc() && window.chatCalls.pc().connectionState === 'connected');
    await p.waitForFunction(() => document.getElementById('remote-video').videoWidth > 0);
  }
  await axe(alice, 'call overlay connected 1440x900');
  await noSideScroll(alice, 'call overlay connected 1440x900');
  await axe(bob, 'call overlay connected 390x844');
  await noSideScroll(bob, 'call overlay connected 390x844');
  await alice.screenshot({ path: path.join(artifacts, 'a11y-call-1440.png') });
  await bob.screenshot({ path: path.join(artifacts, 'a11y-call-390.png') });
  await alice.focus('#call-hangup');
  await alice.keyboard.press('Enter');
  await bob.waitForSelector('#call', { state: 'hidden' });
  console.log('chat a11y: ok');
} catch (e) {
  failed = true;
  console.error('chat a11y: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
