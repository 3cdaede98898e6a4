// The installed chat on the system's Apache (tests/system_install.py): two
// users sign in with Basic authentication (the README's recipe), chat both
// ways in a room the admin API activated, and the admin page signs in.
// Screenshots go to ARTIFACT_DIR with the given PREFIX.
//   node system_install.mjs PORT ROOM SECRET ARTIFACT_DIR PREFIX
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, room, secret, artifacts, prefix] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${prefix}-${name}`) });
let failed = false;
try {
  const pages = {};
  for (const [who, password] of [['alice', 'alice-pw'], ['bob', 'bob-pw']]) {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 700 },
                                           httpCredentials: { username: who, password } });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15000);
    const errors = [];
    // every file the page asks for is there (the browser's own favicon probe aside)
    p.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`);
    });
    p.on('dialog', async (d) => { await d.dismiss(); throw new Error('a dialog opened: ' + d.message()); });
    const res = await p.goto(`${base}/chat/${room}`);
    if (res.status() !== 200) throw new Error(`${who}: page answered ${res.status()}`);
    await p.waitForSelector('#state.online');
    // the page's scripts and styles came from the installed client
    const loaded = await p.evaluate(() => ({
      css: [...document.styleSheets].some((s) => s.href && s.href.endsWith('/chat/client/chat.css')),
      marked: typeof window.marked === 'object',
    }));
    if (!loaded.css || !loaded.marked) throw new Error(`${who}: client files missing: ${JSON.stringify(loaded)}`);
    if (errors.length) throw new Error(`${who}: failed requests: ${errors.join(' | ')}`);
    pages[who] = p;
  }
  const { alice, bob } = pages;
  await alice.fill('#text', 'hello **bob**, from the installed module');
  await alice.press('#text', 'Enter');
  await bob.waitForSelector('.msg:has-text("hello bob, from the installed module")');
  if (!(await bob.$('.msg strong'))) throw new Error('Markdown (vendor/marked) not rendered');
  await bob.fill('#text', 'hi alice');
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('.msg:has-text("hi alice")');
  // who is who comes from the Basic login, not from the page
  await alice.waitForSelector('#user-list li:has-text("bob")');
  await shot(alice, 'chat-alice.png');
  await shot(bob, 'chat-bob.png');

  const admin = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  admin.setDefaultTimeout(15000);
  const res = await admin.goto(`${base}/chat-admin/`);
  if (res.status() !== 200) throw new Error(`/chat-admin/ answered ${res.status()}`);
  await admin.fill('#secret', secret);
  await admin.click('#signin-form button');
  await admin.waitForSelector('#app:not([hidden])');
  await admin.waitForSelector(`#rooms tr[data-room="${room}"]`);
  await shot(admin, 'admin.png');
  console.log('system install: chat both ways and admin page ok');
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
