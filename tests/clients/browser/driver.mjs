// What the browser scripts share: their required options, the numbered screenshots of a flow, and a headless
// Chromium page with JavaScript switched off (the scripts only type and click, so the pages must work without
// it), phone-sized or desktop-sized.

import { join } from 'node:path';

import { chromium } from 'playwright-core';

/** A phone's window (the enrollment pages). */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** A desktop's window (the helpdesk console). */
export const DESKTOP = { viewport: { width: 1366, height: 768 } };

/** Throws unless every option in `names` was given. */
export function requireArgs(args, names) {
  for (const name of names) {
    if (!args[name]) throw new Error(`--${name} is required`);
  }
}

/** Screenshots of one flow: DIR/PREFIX-LANG-N-STEP.png, N counting from 1; `files` lists them in order. */
export function screenshots(dir, prefix, lang) {
  const files = [];
  return {
    files,
    async shot(page, step) {
      const file = join(dir, `${prefix}-${lang}-${files.length + 1}-${step}.png`);
      await page.screenshot({ path: file, fullPage: true });
      files.push(file);
    },
  };
}

/** Starts the Chromium at `executablePath` (no sandbox, no GPU, no proxy, no background traffic). */
export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server', '--disable-background-networking'],
  });
}

/** A new page of `browser` in a window of `size`, JavaScript off, 10 s for each step. */
export async function newPage(browser, size) {
  const context = await browser.newContext({ ...size, deviceScaleFactor: 1, javaScriptEnabled: false });
  context.setDefaultTimeout(10_000);
  return context.newPage();
}
