// Token minting on the demo (scripts/demo.sh's own configuration): sign in to
// the admin page, mint a token for bob in the Token form, open the chat at
// /chat-token/lobby?token=... with it and get in as bob; the URL the demo
// printed for alice works too.
//   node admin_token.mjs PORT SECRET ARTIFACT_DIR PRINTED_URL
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, secret, artifacts, printed] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const admin = await ctx.newPage();
  admin.setDefaultTimeout(15000);
  await admin.goto(`${base}/chat-admin/`);
  await admin.fill('#secret', secret);
  await admin.click('#signin-form button');
  await admin.waitForSelector('#app:not([hidden])');
  await admin.fill('#token-user', 'bob');
  await admin.fill('#token-ttl', '600');
  await admin.click('#token-form button');
  await admin.waitForFunction(() => document.getElementById('token').value.length > 20);
  if (!(await admin.isHidden('#error'))) throw new Error('error shown: ' + await admin.textContent('#error'));
  const token = await admin.inputValue('#token');
  await shot(admin, 'demo-token-minted.png');

  for (const [user, url] of [['bob', `${base}/chat-token/lobby?token=${encodeURIComponent(token)}`],
                             ['alice', printed]]) {
    const chat = await ctx.newPage();
    chat.setDefaultTimeout(15000);
    const welcome = new Promise((resolve) => chat.on('websocket', (ws) => ws.on('framereceived', (f) => {
      try { const m = JSON.parse(f.payload); if (m.type === 'welcome') resolve(m.payload); } catch (e) { /* binary */ }
    })));
    await chat.goto(url);
    await chat.waitForSelector('#state:has-text("online")');
    const w = await welcome;
    if (w.username !== user) throw new Error(`joined as ${w.username}, not ${user}`);
    await chat.fill('#text', `hello from ${user} with a token`);
    await chat.press('#text', 'Enter');
    await chat.waitForSelector(`.msg:has-text("hello from ${user} with a token")`);
    await shot(chat, `demo-token-chat-${user}.png`);
  }
  console.log('admin token: ok');
} catch (e) {
  failed = true;
  console.error('admin token: FAILED:', e.message);
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await shot(p, `failure-token-${i}.png`).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
