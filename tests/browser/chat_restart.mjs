// The server restarts mid-chat: both pages show the drop, reconnect by
// themselves (exactly one new welcome each), resume with since/epoch and
// show every message exactly once, including those posted elsewhere while
// they were away. The driving test stops and starts httpd when this prints
// "RESTART" and answers on stdin with the texts it posted meanwhile.
//   node chat_restart.mjs PORT ROOM
import { launchChromium } from './launch.mjs';
import readline from 'node:readline';

const [port, room] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const browser = await launchChromium();
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const check = (ok, what) => { if (!ok) throw new Error(what); };

async function say(p, text) {
  await p.fill('#text', text);
  await p.press('#text', 'Enter');
}
const bodies = (p) => p.$$eval('.msg[data-seq] .body', (els) => els.map((e) => e.textContent));

let failed = false;
try {
  const pages = [];
  for (const who of ['alice', 'bob']) {
    const p = await (await browser.newContext()).newPage();
    p.setDefaultTimeout(30000);
    await p.goto(`${base}/chat/${room}?username=${who}`);
    await p.waitForSelector('#state.online');
    pages.push(p);
  }
  const [alice, bob] = pages;
  await say(alice, 'before 1');
  await bob.waitForSelector('.msg:has-text("before 1")');
  await say(bob, 'before 2');
  await alice.waitForSelector('.msg:has-text("before 2")');

  console.log('RESTART');
  // the driver stops httpd: both pages show that they lost the server
  for (const p of pages) await p.waitForSelector('#state.connecting');
  console.log('DOWN');
  const posted = JSON.parse((await lines.next()).value);
  // back up: each page reconnects once and catches up
  for (const p of pages) {
    await p.waitForSelector('#state.online');
    await p.waitForFunction((texts) => texts.every((t) =>
      [...document.querySelectorAll('.msg[data-seq] .body')].some((b) => b.textContent === t)), posted);
    check((await p.evaluate(() => document.body.dataset.connects)) === '2', 'not exactly one reconnect');
  }
  await say(bob, 'after 1');
  await alice.waitForSelector('.msg:has-text("after 1")');
  await say(alice, 'after 2');
  // both pages: a page shows its own message when the room sends it back
  for (const p of pages) await p.waitForSelector('.msg:has-text("after 2")');
  const expected = ['before 1', 'before 2', ...posted, 'after 1', 'after 2'];
  for (const p of pages) {
    const got = await bodies(p);
    check(JSON.stringify(got) === JSON.stringify(expected),
      `messages not shown exactly once in order: ${JSON.stringify(got)}`);
  }
  console.log('chat restart: ok');
} catch (e) {
  failed = true;
  console.error('chat restart: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
