// How the page comes back when the server sends it away.
//   node chat_backoff.mjs restart PORT ROOM N
//     N pages on one room; prints "RESTART", the driver gracefully restarts
//     httpd and answers a line on stdin. Every page got 1001 with its own
//     retry-after-ms, says it is waiting, and tries again no sooner than its hint:
//     the reconnects follow the hints' order, not all at once.
//   node chat_backoff.mjs full PORT ROOM
//     the server takes one thread-mode socket (ChatThreadSockets 1): a second
//     page is refused, shows "server full, retrying in N s", and gets in
//     after Retry-After once the first page has left.
// The page records Date.now() of its last close (closedAt) and of its first
// attempt after it (attemptAt) on document.body.dataset.
import { launchChromium } from './launch.mjs';
import readline from 'node:readline';

const [mode, port, room, count] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const browser = await launchChromium();
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const check = (ok, what) => { if (!ok) throw new Error(what); };

async function open(who, online = true) {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  p.setDefaultTimeout(30000);
  await p.goto(`${base}/chat/${room}?username=${who}`);
  // every text the state line shows from now on
  await p.evaluate(() => {
    window.stateTexts = [];
    const s = document.getElementById('state');
    new MutationObserver(() => window.stateTexts.push(s.textContent))
      .observe(s, { childList: true, characterData: true, subtree: true });
  });
  if (online) await p.waitForSelector('#state.online');
  return { ctx, p };
}

const figures = (p) => p.evaluate(() => ({
  connects: document.body.dataset.connects, retryMs: +document.body.dataset.retryMs,
  fullRetryMs: +document.body.dataset.fullRetryMs, closedAt: +document.body.dataset.closedAt,
  attemptAt: +document.body.dataset.attemptAt, texts: window.stateTexts,
}));

async function restart() {
  const pages = [];
  for (let i = 0; i < +count; i++) pages.push((await open(`p${i}`)).p);
  console.log('RESTART');
  await lines.next();
  for (const p of pages) {
    await p.waitForFunction(() => document.body.dataset.connects === '2');
    await p.waitForSelector('#state.online');
  }
  const got = await Promise.all(pages.map(figures));
  console.log(JSON.stringify(got.map(({ texts, ...f }) => f)));
  for (const f of got) {
    check(f.retryMs >= 0 && f.retryMs <= 4000, `hint ${f.retryMs} outside ChatReconnectSpread 4`);
    // never sooner than the hint (Date.now() rounds to 1 ms on each side)
    check(f.attemptAt - f.closedAt >= f.retryMs - 2,
      `came back after ${f.attemptAt - f.closedAt} ms, hint ${f.retryMs} ms`);
    if (f.retryMs >= 1000) {
      check(f.texts.some((t) => /^server restarting; reconnecting in \d+ s$/.test(t)),
        `never said it was waiting: ${JSON.stringify(f.texts)}`);
    }
  }
  // spread: the hints differ, and pages with hints a second apart come back in that order
  check(new Set(got.map((f) => f.retryMs)).size > got.length / 2, 'hints not spread');
  for (const a of got) {
    for (const b of got) {
      if (a.retryMs + 1000 < b.retryMs) {
        check(a.attemptAt < b.attemptAt, `hint ${a.retryMs} came back after hint ${b.retryMs}`);
      }
    }
  }
}

async function full() {
  const first = await open('alice');
  const second = await open('bob', false);
  // refused: the page asks ?capacity and counts Retry-After down
  await second.p.waitForFunction(() =>
    /^server full, retrying in \d+ s$/.test(document.getElementById('banner').textContent));
  const refused = await figures(second.p);
  check(/^server full, retrying in \d+ s$/.test(await second.p.textContent('#state')),
    'the state line does not say the server is full');
  check(refused.fullRetryMs >= 2000 && refused.fullRetryMs <= 2500,
    `waits ${refused.fullRetryMs} ms for Retry-After 2`);
  check(refused.connects === undefined, 'the refused page says it connected');
  await first.ctx.close(); // its socket ends: the place is free
  await second.p.waitForSelector('#state.online');
  const f = await figures(second.p);
  console.log(JSON.stringify({ ...f, texts: undefined }));
  check(f.attemptAt - f.closedAt >= f.fullRetryMs - 2,
    `retried after ${f.attemptAt - f.closedAt} ms, Retry-After wait ${f.fullRetryMs} ms`);
  check(await second.p.isHidden('#banner'), 'the full notice stays after joining');
}

let failed = false;
try {
  await (mode === 'full' ? full() : restart());
  console.log('chat backoff: ok');
} catch (e) {
  failed = true;
  console.error('chat backoff: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
