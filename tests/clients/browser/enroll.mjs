// Completes a flow A enrollment in headless Chromium, as a person on a phone would, for
// tests/integration/web_browser.rs.
//
//   node enroll.mjs --base URL --lang zh-TW|en --account ID --password PW --time UNIX --label NAME --shots DIR
//
// Opens /enroll, logs in, presses "register software token" (after typing a device name), reads the initial key
// from the page (the text in groups of four), computes the TOTP code for --time (the server's manual clock) with
// its own RFC 6238 code (totp.mjs), types it and submits. JavaScript is switched off in the page: the script only
// types and clicks, so the pages must work without it. Saves a screenshot of each step as
// DIR/enroll-flow-LANG-N-STEP.png and prints one JSON line with what it saw; the Rust test asserts on it.
// Exits non-zero on any failure.

import { parseArgs } from 'node:util';

import { PHONE, launch, newPage, requireArgs, screenshots } from './driver.mjs';
import { base32Decode, totp } from './totp.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    lang: { type: 'string' },
    account: { type: 'string' },
    password: { type: 'string' },
    time: { type: 'string' },
    label: { type: 'string' },
    shots: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
requireArgs(args, ['base', 'lang', 'account', 'password', 'time', 'label', 'shots']);

const { files: shots, shot } = screenshots(args.shots, 'enroll-flow', args.lang);

const browser = await launch(args.chromium);
try {
  const page = await newPage(browser, PHONE);

  await page.goto(`${args.base}/enroll?lang=${args.lang}`);
  await shot(page, 'login');
  const loginButton = page.locator('form[action="/enroll/login"] button[type=submit]');
  const loginText = (await loginButton.innerText()).trim();
  await page.fill('#account', args.account);
  await page.fill('#password', args.password);
  await Promise.all([page.waitForURL('**/enroll/device'), loginButton.click()]);
  await shot(page, 'device');

  const startButton = page.locator('form[action="/enroll/device/start"] button[type=submit]');
  const startText = (await startButton.innerText()).trim();
  await page.fill('#label', args.label);
  await Promise.all([page.waitForURL('**/enroll/device/start'), startButton.click()]);
  const grouped = (await page.locator('#initial-key').innerText()).trim();
  const qrSvgs = await page.locator('.qr svg').count();
  await shot(page, 'qr');

  const key = grouped.replace(/\s+/g, '');
  const code = totp(base32Decode(key), Number(args.time));
  await page.fill('#code', code);
  const confirmButton = page.locator('form[action="/enroll/device/confirm"] button[type=submit]');
  await Promise.all([page.waitForURL('**/enroll/device/confirm'), confirmButton.click()]);
  await shot(page, 'done');
  const notice = (await page.locator('p.ok[role=status]').innerText()).trim();
  const bound = (await page.locator('#bound').innerText()).trim();
  const html_lang = await page.locator('html').getAttribute('lang');

  console.log(JSON.stringify({
    login_button: loginText,
    start_button: startText,
    initial_key_grouped: grouped,
    qr_svgs: qrSvgs,
    code,
    notice,
    bound,
    html_lang,
    screenshots: shots,
  }));
} finally {
  await browser.close();
}
