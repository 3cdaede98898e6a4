// Debian's Chromium, headless, as every browser test starts it: no sandbox
// (root in CI), no GPU, no QUIC and none of the background traffic a fresh
// profile would make. extra: flags one test needs (fake media devices).
import { chromium } from 'playwright-core';

export function launchChromium(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           ...extra],
  });
}
