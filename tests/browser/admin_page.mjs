// Drives the admin page and the chat page in Debian's headless Chromium:
// sign in, activate a room by adding a member, see a user's message, delete
// it and watch it vanish from the connected client, read the debug log.
//   node admin_page.mjs PORT SECRET ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [port, secret, artifacts] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const room = 'b' + Math.random().toString(16).slice(2, 12);
fs.mkdirSync(artifacts, { recursive: true });

const browser = await launchChromium();
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await ctx.newPage();
  admin.setDefaultTimeout(15000);
  await admin.goto(`${base}/chat-admin/`);
  // a wrong secret is refused with a clear message
  await admin.fill('#secret', 'wrong-secret-wrong-secret');
  await admin.click('#signin-form button');
  await admin.waitForSelector('#error:not([hidden])');
  if (!(await admin.textContent('#error')).includes('401')) throw new Error('no 401 shown');
  await admin.fill('#secret', secret);
  await admin.click('#signin-form button');
  await admin.waitForSelector('#app:not([hidden])');

  // activate a room by adding its first member
  await admin.fill('#new-room-name', room);
  await admin.fill('#new-room-user', 'alice');
  await admin.click('#new-room button');
  await admin.waitForSelector(`#rooms tr[data-room="${room}"]`);
  await admin.waitForSelector('#members li:has-text("alice")');
  await shot(admin, 'admin-room-activated.png');

  // alice chats in the room from the chat page
  const chat = await ctx.newPage();
  chat.setDefaultTimeout(15000);
  await chat.goto(`${base}/chat/${room}?username=alice`);
  await chat.waitForSelector('#state:has-text("online")');
  await chat.fill('#text', 'hello from alice');
  await chat.press('#text', 'Enter');
  await chat.waitForSelector('.msg:has-text("hello from alice")');

  // the admin sees it and deletes it; it vanishes from alice's page
  await admin.click(`#rooms tr[data-room="${room}"] button`);
  const item = admin.locator('#messages li', { hasText: 'hello from alice' });
  await item.waitFor();
  await shot(admin, 'admin-messages.png');
  await item.locator('button').click();
  await item.waitFor({ state: 'detached' });
  await chat.waitForSelector('.msg:has-text("hello from alice")', { state: 'detached' });
  await shot(chat, 'chat-after-delete.png');

  // the debug log shows alice's join
  await admin.click('#refresh-log');
  await admin.waitForSelector('#log li:has-text("join alice")');
  await shot(admin, 'admin-debug-log.png');
  console.log('admin page: ok');
} catch (e) {
  failed = true;
  console.error('admin page: FAILED:', e.message);
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    await shot(p, `failure-${browser.contexts()[0].pages().indexOf(p)}.png`).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
