// Completes a flow B invitation in headless Chromium, as a person on a phone would, for
// tests/integration/web_browser.rs.
//
//   node invite.mjs --base URL --path /invite/TOKEN --lang zh-TW|en --password PW --time UNIX --shots DIR
//
// Opens the invitation link, reads the account it names, types that account's password, reads the initial key
// from the page it is then shown, computes the TOTP code for --time (the server's manual clock), types it and
// submits. JavaScript is off in the page. Saves a screenshot of each step as DIR/invite-flow-LANG-N-STEP.png and
// prints one JSON line with what it saw; the Rust test asserts on it. Exits non-zero on any failure.

import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { base32Decode, totp } from './totp.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    path: { type: 'string' },
    lang: { type: 'string' },
    password: { type: 'string' },
    time: { type: 'string' },
    shots: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
for (const name of ['base', 'path', 'lang', 'password', 'time', 'shots']) {
  if (!args[name]) throw new Error(`--${name} is required`);
}

const shots = [];
async function shot(page, step) {
  const file = join(args.shots, `invite-flow-${args.lang}-${shots.length + 1}-${step}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server', '--disable-background-networking'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    javaScriptEnabled: false,
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();

  await page.goto(`${args.base}${args.path}?lang=${args.lang}`);
  await shot(page, 'password');
  const account = (await page.locator('#invite-account').innerText()).trim();
  const seedBeforePassword = await page.locator('#initial-key').count();
  const unlockButton = page.locator(`form[action="${args.path}/unlock"] button[type=submit]`);
  const unlockText = (await unlockButton.innerText()).trim();
  await page.fill('#password', args.password);
  await Promise.all([page.waitForURL(`**${args.path}`), unlockButton.click()]);
  const grouped = (await page.locator('#initial-key').innerText()).trim();
  const qrSvgs = await page.locator('.qr svg').count();
  await shot(page, 'qr');

  const key = grouped.replace(/\s+/g, '');
  const code = totp(base32Decode(key), Number(args.time));
  await page.fill('#code', code);
  const confirmButton = page.locator(`form[action="${args.path}/confirm"] button[type=submit]`);
  await Promise.all([page.waitForURL(`**${args.path}/confirm`), confirmButton.click()]);
  await shot(page, 'done');
  const bound_zh = (await page.locator('#state-zh').innerText()).trim();
  const bound_en = (await page.locator('#state-en').innerText()).trim();

  console.log(JSON.stringify({
    account,
    seed_before_password: seedBeforePassword,
    unlock_button: unlockText,
    initial_key_grouped: grouped,
    qr_svgs: qrSvgs,
    code,
    bound_zh,
    bound_en,
    screenshots: shots,
  }));
} finally {
  await browser.close();
}
