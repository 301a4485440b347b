// Completes a flow B invitation in headless Chromium, as a person on a phone would, for
// tests/integration/web_browser.rs.
//
//   node invite.mjs --base URL --path /invite/TOKEN --lang zh-TW|en --password PW --time UNIX --shots DIR
//
// Opens the invitation link, reads the account it names, types that account's password, reads the initial key
// from the page it is then shown, computes the TOTP code for --time (the server's manual clock), types it and
// submits. JavaScript is off in the page. Saves a screenshot of each step as DIR/invite-flow-LANG-N-STEP.png and
// prints one JSON line with what it saw; the Rust test asserts on it. Exits non-zero on any failure.

import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

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

/** RFC 4648 base32 (upper case, no padding needed) to bytes. */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '')) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) at unix time `time`. */
function totp(key, time) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(number % 1_000_000).padStart(6, '0');
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
