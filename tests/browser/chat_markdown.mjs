// Markdown in Debian's headless Chromium (marked + DOMPurify + highlight.js,
// htdocs/markdown.js): a message, an Explain answer and a bot answer in the
// room with a GFM table, a nested list, headings, a quote and fenced code
// render as those elements; an XSS corpus with Markdown-embedded HTML,
// javascript:/data: links and a foreign image stays inert (no dialog, no
// script, no request to another host); an image from this server loads.
//   node chat_markdown.mjs PORT ROOM ARTIFACT_DIR FAKE_AI_URL
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, room, artifacts, fakeAI] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
const check = (ok, what) => { if (!ok) throw new Error(what); };

const MD = [
  '# Heading one', '## Heading two', '### Heading three', '',
  '| Product | Change |', '|---|---:|', '| rb | +1.2% |', '| au | -0.3% |', '',
  '- outer', '  - inner one', '  - inner two', '- second', '',
  '> a quoted line', '',
  '```python', 'def f(x):', '    return x + 1', '```', '',
  'see https://example.com/md',
].join('\n');

// the corpus of chat_page.mjs, plus Markdown-embedded HTML and hostile URLs
const XSS = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=1">',
  '[click](javascript:window.__pwned=1)',
  '<a href="javascript:window.__pwned=1">a</a>',
  '**<svg onload=window.__pwned=1>**',
  '```\n<script>window.__pwned=1</script>\n```',
  '<iframe src="javascript:window.__pwned=1"></iframe>',
  'text <img src=x onerror=window.__pwned=1> in a paragraph',
  '<details open ontoggle="window.__pwned=1">x</details>',
  '[x](JaVaScRiPt:window.__pwned=1) and [y](java\tscript:window.__pwned=1)',
  '[ref][1]\n\n[1]: javascript:window.__pwned=1',
  '<javascript:window.__pwned=1>',
  '[x](data:text/html,<script>window.__pwned=1</script>)',
  '[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+)',
  '![](http://evil.example/x.png)',
  '![tracker](https://evil.example/pixel.gif "t")',
  '![](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)',
  '![](//evil.example/protocol-relative.png)',
];

async function open(who, vp) {
  const ctx = await browser.newContext({ viewport: vp, locale: 'en-US' });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  p.dialogs = [];
  p.on('dialog', async (d) => { p.dialogs.push(d.message()); await d.dismiss(); });
  p.foreign = [];
  p.on('request', (r) => { const u = new URL(r.url()); if (u.host !== `127.0.0.1:${port}`) p.foreign.push(r.url()); });
  await p.goto(`${base}/chat/${room}?username=${who}`);
  await p.waitForSelector('#state.online');
  return p;
}

// the elements Markdown must produce inside `scope` (a selector)
async function structure(p, scope) {
  return p.$eval(scope, (s) => ({
    table: !!s.querySelector('table thead th') && s.querySelectorAll('table tbody tr').length === 2,
    nested: !!s.querySelector('ul > li > ul > li'),
    headings: ['h1', 'h2', 'h3'].every((h) => s.querySelector(h)),
    quote: !!s.querySelector('blockquote'),
    code: !!s.querySelector('pre > code.hljs.language-python span[class^="hljs-"]'),
    link: !!s.querySelector('a[href="https://example.com/md"][target="_blank"][rel~="noopener"][rel~="noreferrer"]'),
  }));
}
function allTrue(what, o) {
  const bad = Object.entries(o).filter(([, v]) => !v).map(([k]) => k);
  check(!bad.length, `${what}: not rendered: ${bad.join(', ')}`);
}

let failed = false;
try {
  const alice = await open('alice', { width: 1440, height: 900 });
  const bob = await open('bob', { width: 390, height: 844 });

  // a message from bob, rendered for alice
  await bob.fill('#text', MD);
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('.msg:not(.own) .body h1:has-text("Heading one")');
  allTrue('message', await structure(alice, '.msg:not(.own):has(h1) .body'));
  check(await alice.$eval('.msg:not(.own):has(h1) th:nth-child(2)', (e) => e.getAttribute('align')) === 'right',
    'table column alignment lost');

  // an AI answer with the same Markdown: Explain's box and the bot in the room
  if (fakeAI) {
    const script = (items) => fetch(`${fakeAI}/_control/script`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items) });
    await script([{ kind: 'openai', text: MD }]);
    await alice.fill('#text', 'what moved today?');
    await alice.press('#text', 'Enter');
    await alice.click('.msg.own:has-text("what moved today?") button.ai');
    await alice.waitForSelector('.msg.own:has-text("what moved today?") .ai-answer h1');
    allTrue('explain answer', await structure(alice, '.msg.own:has-text("what moved today?") .ai-answer'));
    await script([{ kind: 'openai', text: MD }]);
    await alice.selectOption('#mode', 'deepseek');
    await alice.fill('#text', 'and the table?');
    await alice.press('#text', 'Enter');
    await alice.waitForSelector('.msg.bot .body h1:has-text("Heading one")');
    allTrue('bot answer', await structure(alice, '.msg.bot:has(h1) .body'));
    await alice.selectOption('#mode', 'chat');
  }
  await alice.screenshot({ path: path.join(artifacts, 'markdown-alice.png'), fullPage: false });
  await bob.evaluate(() => { const l = document.getElementById('log'); l.scrollTop = l.scrollHeight; });
  await bob.screenshot({ path: path.join(artifacts, 'markdown-bob-390.png') });

  // an image from this server, written as Markdown, loads
  const png = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGUlEQVR4nGP8z4APMOGVZRiVHpUelR6VBgBGJAEfZ3nHlQAAAABJRU5ErkJggg==';
  const url = await bob.evaluate(async ([room, png]) => {
    const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
    const r = await fetch(`/chat/upload?room=${room}&username=bob`, {
      method: 'POST', body: new Blob([bytes], { type: 'image/png' }),
      headers: { 'Content-Type': 'image/png', 'X-Filename': 'md.png' } });
    return (await r.json()).url;
  }, [room, png]);
  check(/^\/chat\/files\//.test(url), 'upload gave ' + url);
  await bob.fill('#text', `local image ![our chart](${url})`);
  await bob.press('#text', 'Enter');
  const local = await alice.waitForSelector(`.msg .body img[alt="our chart"]`);
  await alice.waitForFunction((img) => img.complete && img.naturalWidth === 16, local);

  // the corpus, posted by bob, inert for alice
  for (const x of XSS) {
    await bob.fill('#text', x);
    await bob.press('#text', 'Enter');
  }
  await alice.waitForSelector('.msg:has-text("protocol-relative")');
  const bad = await alice.evaluate((origin) => ({
    pwned: window.__pwned === 1,
    elements: [...document.querySelectorAll('#log script, #log iframe, #log .body svg, #log details, #log object, #log embed')]
      .map((e) => e.outerHTML),
    handlers: [...document.querySelectorAll('#log *')]
      .filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).map((e) => e.outerHTML),
    links: [...document.querySelectorAll('#log a')].filter((a) => {
      const u = new URL(a.getAttribute('href'), location.href);
      return !/^(https?|mailto):$/.test(u.protocol) || a.target !== '_blank' || !/noopener/.test(a.rel) || !/noreferrer/.test(a.rel);
    }).map((a) => a.outerHTML),
    images: [...document.querySelectorAll('#log img')].filter((i) => new URL(i.src, location.href).origin !== origin)
      .map((i) => i.outerHTML),
    resources: performance.getEntriesByType('resource').map((r) => r.name).filter((n) => new URL(n).origin !== origin),
  }), base);
  check(!bad.pwned && !bad.elements.length && !bad.handlers.length && !bad.links.length && !bad.images.length &&
        !bad.resources.length, 'XSS not inert: ' + JSON.stringify(bad));
  check(!alice.dialogs.length && !bob.dialogs.length, 'a dialog opened: ' + alice.dialogs.concat(bob.dialogs));
  check(!alice.foreign.length && !bob.foreign.length, 'requests to another host: ' + alice.foreign.concat(bob.foreign));
  // shown as text, not dropped: typed HTML is visible, a foreign image is an ordinary link
  await alice.waitForSelector('.msg .body:has-text("<script>window.__pwned=1</script>")');
  await alice.waitForSelector('.msg .body:has-text(\'<img src=x onerror="window.__pwned=1">\')');
  await alice.waitForSelector('.msg span.blocked-image:has-text("[image]")'); // the data: image
  const blocked = await alice.$('.msg a.blocked-image[href="http://evil.example/x.png"]');
  check(blocked, 'the foreign image is not offered as a link');
  await alice.evaluate(() => { const l = document.getElementById('log'); l.scrollTop = l.scrollHeight; });
  await alice.screenshot({ path: path.join(artifacts, 'markdown-xss.png') });
  console.log('chat markdown: ok');
} catch (e) {
  failed = true;
  console.error('chat markdown: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
