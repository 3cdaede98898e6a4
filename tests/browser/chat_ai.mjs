// The AI buttons in Debian's headless Chromium. With "none" the server has no
// AI: Explain gives a clear message and the "send to" menu stays hidden. With
// "configured" (tests/fake_ai.py behind the server): Explain shows an answer
// under the message, and asking deepseek through the menu shows the bot's
// "thinking…" replaced in place by its answer.
//   node chat_ai.mjs PORT ROOM none|configured ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import path from 'node:path';

const [port, room, mode, artifacts] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const browser = await launchChromium();
const check = (ok, what) => { if (!ok) throw new Error(what); };
let failed = false;
try {
  const p = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  p.setDefaultTimeout(20000);
  await p.goto(`${base}/chat/${room}?username=alice`);
  await p.waitForSelector('#state.online');
  await p.fill('#text', '沪深300股指期货贴水扩大');
  await p.press('#text', 'Enter');
  await p.click('.msg:has-text("贴水扩大") button.ai');
  if (mode === 'none') {
    await p.waitForSelector('#banner:has-text("not configured")');
    check(await p.isHidden('#mode'), 'the AI menu shows without AI');
  } else {
    // several providers: a menu offers them, the ChatAIExplainProvider first
    await p.click('.ai-menu button[data-provider="deepseek"]:first-child');
    const ans = await p.waitForSelector('.msg:has-text("贴水扩大") .ai-answer');
    check((await ans.textContent()).includes('fake-openai'), 'no explanation shown');
    const options = await p.$$eval('#mode option', (os) => os.map((o) => o.value));
    check(JSON.stringify(options) === JSON.stringify(['chat', 'deepseek', 'kimi', 'gemini']),
      'menu options ' + JSON.stringify(options));
    await p.selectOption('#mode', 'deepseek');
    await p.fill('#text', '螺纹钢怎么样');
    await p.press('#text', 'Enter');
    // the bot message appears, then its text changes in place (same id)
    const bot = await p.waitForSelector('.msg.bot');
    const id = await bot.getAttribute('data-id');
    await p.waitForSelector(`.msg.bot[data-id="${id}"]:has-text("fake-openai")`);
    check((await p.$$(`.msg[data-id="${id}"]`)).length === 1, 'the answer is shown twice');
    check(!(await p.$('.msg.bot:has-text("thinking…")')), 'thinking… left behind');
    await p.screenshot({ path: path.join(artifacts, 'chat-ai.png') });
  }
  console.log('chat ai: ok');
} catch (e) {
  failed = true;
  console.error('chat ai: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
