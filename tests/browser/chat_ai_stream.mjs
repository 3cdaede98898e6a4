// The AI in the page, in Debian's headless Chromium, against tests/fake_ai.py
// (the pytest driver scripts it: a deepseek answer streamed in chunks with a
// delay between them):
//  1. "@d hello" typed by alice asks deepseek; its bot message grows in place
//     (its text recorded on every DOM mutation: at least three growing steps)
//     and ends complete, once;
//  2. Explain offers the providers; gemini's answer is shown with Copy (the
//     clipboard then holds it) and Close (the box goes), and the request went
//     under the page's own prefix;
//  3. typing "@" opens a listbox of the room's members (bob) and the bots;
//     arrows/Enter insert the choice, Escape closes it.
//   node chat_ai_stream.mjs PORT ROOM ARTIFACT_DIR EXPECTED_ANSWER
import { launchChromium } from './launch.mjs';
import path from 'node:path';

const [port, room, artifacts, expected] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const browser = await launchChromium();
const check = (ok, what) => { if (!ok) throw new Error(what); };
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  const aiRequests = [];
  p.on('request', (r) => { if (r.url().includes('/ai/')) aiRequests.push(r.url()); });
  // bob is in the room too, for the @ pop-up
  const bobCtx = await browser.newContext();
  const bob = await bobCtx.newPage();
  await bob.goto(`${base}/chat/${room}?username=bob`);
  await bob.waitForSelector('#state.online');
  await p.goto(`${base}/chat/${room}?username=alice`);
  await p.waitForSelector('#state.online');
  await p.waitForSelector('#user-list li[data-user="bob"]');

  // 1. "@d hello": every text the bot message shows, as the DOM changes
  await p.evaluate(() => {
    window.botTexts = [];
    new MutationObserver(() => {
      const bot = [...document.querySelectorAll('.msg.bot')].pop();
      const text = bot && bot.querySelector('.body').textContent;
      if (text && window.botTexts[window.botTexts.length - 1] !== text) window.botTexts.push(text);
    }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
  });
  await p.fill('#text', '@d hello');
  await p.press('#text', 'Enter');
  await p.waitForSelector('.msg.bot.streaming');
  await p.screenshot({ path: path.join(artifacts, 'chat-ai-streaming.png') });
  await p.waitForFunction((want) => {
    const bot = [...document.querySelectorAll('.msg.bot')].pop();
    return bot && !bot.classList.contains('streaming') && bot.querySelector('.body').textContent === want;
  }, expected);
  const texts = (await p.evaluate(() => window.botTexts)).filter((t) => t !== 'thinking…');
  console.log('bot texts:', JSON.stringify(texts));
  const steps = texts.filter((t, i) => i === 0 || (t.startsWith(texts[i - 1]) && t.length > texts[i - 1].length));
  check(steps.length === texts.length, 'the answer did not only grow: ' + JSON.stringify(texts));
  check(texts.length >= 3, 'fewer than 3 growing steps: ' + JSON.stringify(texts));
  check(texts[texts.length - 1] === expected, 'the answer is not complete');
  check((await p.$$('.msg.bot')).length === 1, 'the answer is shown twice');
  check((await p.textContent('.msg.own .body')) === '@d hello', 'the question is not as typed');
  await p.screenshot({ path: path.join(artifacts, 'chat-ai-streamed.png') });

  // 2. Explain with gemini: the menu lists the providers, the default first
  await p.click('.msg.own button.ai');
  const offered = await p.$$eval('.ai-menu [role="menuitem"]', (bs) => bs.map((b) => b.dataset.provider));
  check(JSON.stringify(offered) === JSON.stringify(['deepseek', 'kimi', 'gemini', 'plain']), 'menu ' + JSON.stringify(offered));
  check(await p.evaluate(() => document.activeElement.dataset.provider === 'deepseek'), 'menu not focused');
  await p.keyboard.press('ArrowDown');
  await p.keyboard.press('ArrowDown');
  await p.screenshot({ path: path.join(artifacts, 'chat-ai-explain-menu.png') });
  await p.keyboard.press('Enter'); // gemini
  const box = await p.waitForSelector('.msg.own .ai-answer[data-provider="gemini"]');
  const answer = await box.$eval('.ai-text', (e) => e.textContent);
  check(answer.startsWith('fake-gemini('), 'not a gemini answer: ' + answer);
  check(aiRequests.some((u) => u.startsWith(`${base}/chat/ai/explain?`)), 'explain URL ' + aiRequests);
  await p.screenshot({ path: path.join(artifacts, 'chat-ai-explain.png') });
  await box.$eval('.ai-copy', (b) => b.click());
  await p.waitForSelector('.ai-copy:has-text("Copied")');
  const clip = await p.evaluate(() => navigator.clipboard.readText());
  check(clip === answer, 'clipboard: ' + clip);
  await p.click('.msg.own .ai-answer .ai-close');
  await p.waitForSelector('.msg.own .ai-answer', { state: 'detached' });

  // 3. the @ pop-up: members and bots, keyboard-driven
  await p.click('#text');
  await p.keyboard.type('@');
  await p.waitForSelector('#mention-pop:not([hidden])');
  check((await p.getAttribute('#text', 'aria-expanded')) === 'true', 'combobox not expanded');
  const names = await p.$$eval('#mention-pop [role="option"] .mention-name', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(names) === JSON.stringify(['bob', 'deepseek', 'kimi', 'gemini', 'plain']), 'pop-up ' + JSON.stringify(names));
  await p.screenshot({ path: path.join(artifacts, 'chat-ai-mention.png') });
  await p.keyboard.press('Enter');
  check((await p.inputValue('#text')) === '@bob ', 'inserted ' + (await p.inputValue('#text')));
  check(await p.isHidden('#mention-pop'), 'the pop-up stays open');
  await p.keyboard.type('and @g');
  await p.waitForSelector('#mention-pop:not([hidden])');
  const only = await p.$$eval('#mention-pop [role="option"] .mention-name', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(only) === JSON.stringify(['gemini']), 'filtered ' + JSON.stringify(only));
  await p.keyboard.press('Tab');
  check((await p.inputValue('#text')) === '@bob and @gemini ', 'inserted ' + (await p.inputValue('#text')));
  await p.keyboard.type('@');
  await p.waitForSelector('#mention-pop:not([hidden])');
  await p.keyboard.press('ArrowDown');
  check((await p.getAttribute('#text', 'aria-activedescendant')) === 'mention-1', 'arrow did not move');
  await p.keyboard.press('Escape');
  check(await p.isHidden('#mention-pop'), 'Escape did not close');
  check((await p.inputValue('#text')) === '@bob and @gemini @', 'Escape changed the text');
  console.log('chat ai stream: ok');
} catch (e) {
  failed = true;
  console.error('chat ai stream: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
