// The admin page's job list in Debian's headless Chromium: each job with its
// schedule and next run, the last run's outcome, and "Run now" queuing a run
// that then shows up as the last run.
//   node admin_jobs.mjs PORT SECRET JOB JOB_COUNT ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import path from 'node:path';

const [port, secret, job, count, artifacts] = process.argv.slice(2);
const browser = await launchChromium();
let failed = false;
try {
  const p = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  p.setDefaultTimeout(15000);
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  await p.goto(`http://127.0.0.1:${port}/chat-admin/`);
  await p.fill('#secret', secret);
  await p.click('#signin-form button');
  await p.waitForSelector('#app:not([hidden])');
  const item = `#jobs li:has(strong:text-is("${job}"))`;
  await p.waitForSelector(`${item}:has-text("next")`);
  await p.click(`${item} button:has-text("Run now")`);
  // the page looks again until the run is recorded, then shows it
  await p.waitForSelector(`${item}:has-text("(run now)")`, { timeout: 30000 });
  const text = await p.textContent(item);
  if (!/last: .* ok: posted the text \(run now\)/.test(text)) throw new Error('no run shown: ' + text);
  await p.screenshot({ path: path.join(artifacts, 'admin-jobs.png'), fullPage: true });
  const names = await p.$$eval('#jobs li > strong', (els) => els.map((e) => e.textContent));
  if (names.length !== +count) throw new Error('jobs listed: ' + JSON.stringify(names) + ' ' + errors.join('; '));
  console.log('admin jobs: ok');
} catch (e) {
  failed = true;
  console.error('admin jobs: FAILED:', e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
