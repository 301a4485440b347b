// Moves a phone binding to a new phone in headless Chromium at phone size, as a person would on /enroll, for
// tests/integration/console_browser.rs.
//
//   node change.mjs --base URL --lang zh-TW|en --account ID --password PW --old-seed BASE32 --time UNIX
//                   --label NAME --shots DIR
//
// Logs in on /enroll, types the password and the old phone's code (computed from --old-seed for --time, the
// server's manual clock, with totp.mjs) into the phone-change form, reads the new phone's initial key from the
// page, types the new phone's code for the same time and confirms. JavaScript is switched off in the page.
// Saves a screenshot of each step as DIR/change-flow-LANG-N-STEP.png and prints one JSON line with what it saw;
// the Rust test asserts on it. Exits non-zero on any failure.

import { parseArgs } from 'node:util';

import { PHONE, launch, newPage, requireArgs, screenshots } from './driver.mjs';
import { base32Decode, totp } from './totp.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    lang: { type: 'string' },
    account: { type: 'string' },
    password: { type: 'string' },
    'old-seed': { type: 'string' },
    time: { type: 'string' },
    label: { type: 'string' },
    shots: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
requireArgs(args, ['base', 'lang', 'account', 'password', 'old-seed', 'time', 'label', 'shots']);

const { files: shots, shot } = screenshots(args.shots, 'change-flow', args.lang);

const browser = await launch(args.chromium);
try {
  const page = await newPage(browser, PHONE);
  const time = Number(args.time);

  await page.goto(`${args.base}/enroll?lang=${args.lang}`);
  await page.fill('#account', args.account);
  await page.fill('#password', args.password);
  const loginButton = page.locator('form[action="/enroll/login"] button[type=submit]');
  await Promise.all([page.waitForURL('**/enroll/device'), loginButton.click()]);
  const changeHeading = (await page.locator('#change h2').innerText()).trim();

  const oldCode = totp(base32Decode(args['old-seed']), time);
  await page.fill('#password', args.password);
  await page.fill('#old-code', oldCode);
  await page.fill('#label', args.label);
  await shot(page, 'device');
  const changeButton = page.locator('form[action="/enroll/change/start"] button[type=submit]');
  await Promise.all([page.waitForURL('**/enroll/change/start'), changeButton.click()]);
  const grouped = (await page.locator('#initial-key').innerText()).trim();
  const qrSvgs = await page.locator('.qr svg').count();
  await shot(page, 'qr');

  const newCode = totp(base32Decode(grouped.replace(/\s+/g, '')), time);
  await page.fill('#code', newCode);
  const confirmButton = page.locator('form[action="/enroll/change/confirm"] button[type=submit]');
  await Promise.all([page.waitForURL('**/enroll/change/confirm'), confirmButton.click()]);
  await shot(page, 'done');
  const notice = (await page.locator('p.ok[role=status]').innerText()).trim();

  console.log(JSON.stringify({
    change_heading: changeHeading,
    old_code: oldCode,
    initial_key_grouped: grouped,
    qr_svgs: qrSvgs,
    new_code: newCode,
    notice,
    screenshots: shots,
  }));
} finally {
  await browser.close();
}
