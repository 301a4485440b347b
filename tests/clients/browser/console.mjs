// Uses the helpdesk console (/admin) in headless Chromium at 1366×768, as a service desk would, for
// tests/integration/console_browser.rs.
//
//   node console.mjs --base URL --lang zh-TW|en --name ADMIN --password PW --seed BASE32 --time UNIX --shots DIR
//                    [--query Q --account ID --reason TEXT] [--pages /admin/report,/admin/clients] [--prefix P]
//
// Logs in with the admin's name, password and the TOTP code computed from --seed for --time (the server's manual
// clock, totp.mjs). With --query: searches for Q, opens ID from the results, presses "reset the device", types
// the reason on the confirmation page and confirms. With --pages: opens each page through the navigation bar's
// links (so a page missing from the bar fails). JavaScript is switched off in the page: the script only types
// and clicks. Saves a screenshot of each step as DIR/P-LANG-N-STEP.png (P: console) and prints one JSON line with what
// it saw; the Rust test asserts on it. Exits non-zero on any failure.

import { parseArgs } from 'node:util';

import { DESKTOP, launch, newPage, requireArgs, screenshots } from './driver.mjs';
import { base32Decode, totp } from './totp.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    lang: { type: 'string' },
    name: { type: 'string' },
    password: { type: 'string' },
    seed: { type: 'string' },
    time: { type: 'string' },
    shots: { type: 'string' },
    query: { type: 'string' },
    account: { type: 'string' },
    reason: { type: 'string' },
    pages: { type: 'string', default: '' },
    prefix: { type: 'string', default: 'console' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
requireArgs(args, ['base', 'lang', 'name', 'password', 'seed', 'time', 'shots']);
if (args.query && !(args.account && args.reason)) throw new Error('--query needs --account and --reason');

const { files: shots, shot } = screenshots(args.shots, args.prefix, args.lang);

/** The page's widest element beyond the window: a layout that does not fit 1366 px. */
async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

const browser = await launch(args.chromium);
try {
  const page = await newPage(browser, DESKTOP);
  const seen = { overflow: {} };

  await page.goto(`${args.base}/admin/login?lang=${args.lang}`);
  seen.html_lang = await page.locator('html').getAttribute('lang');
  seen.login_heading = (await page.locator('h1').innerText()).trim();
  await shot(page, 'login');
  seen.overflow.login = await overflow(page);
  seen.code = totp(base32Decode(args.seed), Number(args.time));
  await page.fill('#name', args.name);
  await page.fill('#password', args.password);
  await page.fill('#code', seen.code);
  const login = page.locator('form[action="/admin/login"] button[type=submit]');
  await Promise.all([page.waitForURL(/\/admin$/), login.click()]);
  seen.signed_in = (await page.locator('header.bar nav span').innerText()).trim();

  if (args.query) {
    seen.home_headings = await page.locator('h2').allInnerTexts();
    await shot(page, 'home');
    seen.overflow.home = await overflow(page);
    await page.fill('#q', args.query);
    const search = page.locator('form.search button[type=submit]');
    await Promise.all([page.waitForURL(/\/admin\?q=/), search.click()]);
    seen.results = await page.locator('tbody tr td:first-child').allInnerTexts();
    await shot(page, 'search');
    seen.overflow.search = await overflow(page);

    await Promise.all([
      page.waitForURL(`**/admin/accounts/${args.account}`),
      page.locator(`tbody a[href="/admin/accounts/${args.account}"]`).click(),
    ]);
    seen.account_heading = (await page.locator('h1').innerText()).trim();
    seen.facts_before = await page.locator('dl.facts dd').allInnerTexts();
    await shot(page, 'account');
    seen.overflow.account = await overflow(page);

    const reset = page.locator(`a[href="/admin/accounts/${args.account}/reset-device"]`);
    seen.reset_button = (await reset.innerText()).trim();
    await Promise.all([page.waitForURL('**/reset-device'), reset.click()]);
    seen.confirm_heading = (await page.locator('h1').innerText()).trim();
    await page.fill('#reason', args.reason);
    await shot(page, 'reset-confirm');
    seen.overflow.confirm = await overflow(page);
    const confirm = page.locator('form[action$="/reset-device"] button[type=submit]');
    await Promise.all([page.waitForURL(/\?done=reset$/), confirm.click()]);
    seen.notice = (await page.locator('p.ok[role=status]').innerText()).trim();
    seen.facts_after = await page.locator('dl.facts dd').allInnerTexts();
    seen.events = await page.locator('tbody tr').allInnerTexts();
    await shot(page, 'reset-done');
    seen.overflow.done = await overflow(page);
  }

  seen.pages = {};
  for (const path of args.pages.split(',').filter(Boolean)) {
    const link = page.locator(`header.bar nav a[href="${path}"]`);
    await Promise.all([page.waitForURL(`**${path}`), link.click()]);
    const step = path.split('/').pop();
    seen.pages[path] = (await page.locator('h1').first().innerText()).trim();
    await shot(page, step);
    seen.overflow[step] = await overflow(page);
  }

  seen.screenshots = shots;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
