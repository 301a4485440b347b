// Completes a flow B invitation in headless Chromium, as a person on a phone would, for
// tests/integration/web_browser.rs.
//
//   node invite.mjs --base URL --path /invite/TOKEN --lang zh-TW|en --password PW --time UNIX --shots DIR
//
// Opens the invitation link, reads the account it names, types that account's password, reads the initial key
// from the page it is then shown, computes the TOTP code for --time (the server's manual clock), types it and
// submits. JavaScript is off in the page. Saves a screenshot of each step as DIR/invite-flow-LANG-N-STEP.png and
// prints one JSON line with what it saw; the Rust test asserts on it. Exits non-zero on any failure.

import { parseArgs } from 'node:util';

import { PHONE, launch, newPage, requireArgs, screenshots } from './driver.mjs';
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
requireArgs(args, ['base', 'path', 'lang', 'password', 'time', 'shots']);

const { files: shots, shot } = screenshots(args.shots, 'invite-flow', args.lang);

const browser = await launch(args.chromium);
try {
  const page = await newPage(browser, PHONE);

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
