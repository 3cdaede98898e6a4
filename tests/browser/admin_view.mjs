// The admin page's room view in Debian's headless Chromium, against two
// servers on one Redis: alice's sessions on both are listed with their
// process; the 7-day chart's current-hour bar counts the messages really
// posted; the live debug tail shows bob's join within 2 s; clearing the log
// and removing every member work; axe-core finds no serious or critical
// violation (light and dark, 1440x900 and 390x844), nothing scrolls sideways,
// and every control is reached with Tab.
//   node admin_view.mjs PORT PORT2 SECRET ARTIFACT_DIR
import { launchChromium } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [port, port2, secret, artifacts] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const base2 = `http://127.0.0.1:${port2}`;
const room = 'v' + Math.random().toString(16).slice(2, 12);
const here = path.dirname(fileURLToPath(import.meta.url));
const axePath = path.join(here, 'node_modules', 'axe-core', 'axe.min.js');
const HOUR = 3600000;
fs.mkdirSync(artifacts, { recursive: true });

const api = async (method, p, body) => {
  const r = await fetch(`${base}/chat-admin/api${p}`, {
    method, headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return r.json();
};

const browser = await launchChromium();
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });
const report = [];
let failed = false;

async function chatPage(ctx, b, user) {
  const p = await ctx.newPage();
  p.setDefaultTimeout(15000);
  await p.goto(`${b}/chat/${room}?username=${user}`);
  await p.waitForSelector('#state:has-text("online")');
  return p;
}

// axe-core in the page (injected: the page's CSP admits only its own
// scripts, so this context bypasses CSP); serious and critical only
async function audit(page, label) {
  await page.addScriptTag({ path: axePath });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  report.push(`axe ${label}: ${res.length} violations, ${bad.length} serious/critical` +
              (res.length ? ' (' + res.map((v) => v.id + ':' + v.impact).join(', ') + ')' : ''));
  if (bad.length) throw new Error(`axe ${label}: ${JSON.stringify(bad)}`);
}

async function noSideScroll(page, label) {
  const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  report.push(`width ${label}: scrollWidth ${sw}, innerWidth ${iw}`);
  if (sw > iw) {
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 8).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' +
                            Math.round(e.getBoundingClientRect().right)));
    throw new Error(`${label}: horizontal scroll (${sw} > ${iw}): ${wide.join(', ')}`);
  }
}

// Tab through the page: every visible, enabled control gets the focus
async function keyboardReachable(page, label) {
  const total = await page.evaluate(() => {
    const els = [...document.querySelectorAll('button, input, textarea, select, a[href], [tabindex="0"]')]
      .filter((e) => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden');
    els.forEach((e, i) => { e.dataset.kb = String(i); });
    document.activeElement.blur();
    return els.length;
  });
  const seen = new Set();
  for (let i = 0; i < total * 2 + 10 && seen.size < total; i++) {
    await page.keyboard.press('Tab');
    const k = await page.evaluate(() => document.activeElement && document.activeElement.dataset.kb);
    if (k !== undefined && k !== null) seen.add(k);
  }
  report.push(`keyboard ${label}: ${seen.size} of ${total} controls reached with Tab`);
  if (seen.size < total) throw new Error(`keyboard ${label}: only ${seen.size} of ${total} controls reached`);
}

try {
  await api('POST', `/rooms/${room}/members`, { username: 'alice' });
  await api('POST', `/rooms/${room}/members`, { username: 'bob' });
  const hourBefore = Math.floor(Date.now() / HOUR);

  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
  // alice on both servers; she posts 3 messages, the admin API 2 more
  const alice1 = await chatPage(ctx, base, 'alice');
  const alice2 = await chatPage(ctx, base2, 'alice');
  for (let k = 0; k < 3; k++) {
    await alice1.fill('#text', `counted ${k}`);
    await alice1.press('#text', 'Enter');
    await alice1.waitForSelector(`.msg:has-text("counted ${k}")`);
  }
  await api('POST', `/rooms/${room}/messages`, { text: 'counted by the admin' });
  await api('POST', `/rooms/${room}/messages`, { text: 'and again', username: 'bob' });
  const hourAfter = Math.floor(Date.now() / HOUR);

  const admin = await ctx.newPage();
  admin.setDefaultTimeout(15000);
  const errors = [];
  admin.on('pageerror', (e) => errors.push(e.message));
  admin.on('dialog', (d) => d.accept());
  await admin.goto(`${base}/chat-admin/`);
  await admin.fill('#secret', secret);
  await admin.click('#signin-form button');
  await admin.waitForSelector('#app:not([hidden])');
  await admin.click(`#rooms tr[data-room="${room}"] button`);

  // sessions of alice on two servers, each with its process, since, last seen
  await admin.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#sessions tr[data-user="alice"]')];
    return rows.length === 2 && new Set(rows.map((r) => r.dataset.node)).size === 2;
  });
  const pids = await admin.$$eval('#sessions tr[data-user="alice"]', (rs) => rs.map((r) => +r.dataset.pid));
  const wanted = (await api('GET', `/rooms/${room}/sessions`)).users.find((u) => u.username === 'alice')
    .sessions.map((s) => s.pid);
  if (JSON.stringify(pids.sort()) !== JSON.stringify(wanted.sort())) throw new Error(`pids ${pids} != ${wanted}`);
  const cells = await admin.$$eval('#sessions tr[data-user="alice"] td', (tds) => tds.map((t) => t.textContent));
  if (cells.some((c, i) => i % 5 >= 3 && c === '—')) throw new Error('a session without since/last seen: ' + cells);
  report.push(`sessions: alice on pids ${pids.join(', ')}`);

  // the chart's current hour counts the 5 posted messages
  await admin.waitForSelector('#chart rect.now');
  const bar = await admin.$eval('#chart rect.now', (r) => ({
    count: +r.dataset.count, start: +r.dataset.start, h: +r.getAttribute('height'),
    title: r.querySelector('title').textContent }));
  const total = +(await admin.$eval('#chart', (f) => f.dataset.total));
  const bars = await admin.$$eval('#chart rect.bar', (rs) => rs.length);
  if (total !== 5 || bars !== 168) throw new Error(`chart total ${total}, ${bars} bars`);
  if (hourBefore === hourAfter && (bar.count !== 5 || bar.start !== hourAfter * HOUR || !(bar.h > 0)))
    throw new Error('current hour bar: ' + JSON.stringify(bar));
  report.push(`chart: current hour bar ${JSON.stringify(bar)}, total ${total}`);
  await shot(admin, 'admin-view-1440.png');

  // the live tail: bob's join shows within 2 s of his welcome, without a click
  const bob = await chatPage(ctx, base2, 'bob');
  const t0 = Date.now();
  await admin.waitForSelector('#log li:has-text("join bob")', { timeout: 2000 });
  report.push(`debug tail: bob's join shown ${Date.now() - t0} ms after his welcome`);
  await shot(admin, 'admin-view-tail.png');

  // accessibility and layout at 1440x900, light then dark
  await audit(admin, 'light 1440x900');
  await noSideScroll(admin, 'light 1440x900');
  await keyboardReachable(admin, '1440x900');
  await admin.click('#theme');
  if (await admin.getAttribute('#theme', 'aria-pressed') !== 'true') throw new Error('theme not pressed');
  await audit(admin, 'dark 1440x900');
  await shot(admin, 'admin-view-dark.png');
  await admin.setViewportSize({ width: 390, height: 844 });
  await audit(admin, 'dark 390x844');
  await noSideScroll(admin, 'dark 390x844');
  await admin.click('#theme');
  await audit(admin, 'light 390x844');
  await noSideScroll(admin, 'light 390x844');
  await shot(admin, 'admin-view-390.png');
  await admin.setViewportSize({ width: 1440, height: 900 });

  // clear the debug log
  await admin.click('#clear-log');
  await admin.waitForSelector('#log li:has-text("empty")');
  if ((await api('GET', `/rooms/${room}/log`)).entries.length) throw new Error('log not cleared');

  // remove every member: their pages are refused, the room is inactive
  await admin.click('#remove-all');
  await admin.waitForSelector('#members li:has-text("no members")');
  for (const p of [alice1, alice2, bob]) await p.waitForSelector('#state:not(:has-text("online"))');
  await admin.waitForSelector('#sessions td:has-text("nobody online")');
  await shot(admin, 'admin-view-removed.png');
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  console.log(report.join('\n'));
  console.log('admin view: ok');
} catch (e) {
  failed = true;
  console.log(report.join('\n'));
  console.error('admin view: FAILED:', e.message);
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await shot(p, `failure-view-${i}.png`).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
