#!/usr/bin/env node
// A real Selenium (selenium-webdriver) bot for corral's tests: it opens a
// session at a remote URL exactly as an unchanged bot would, gets a page,
// reads its title, takes a screenshot, evaluates through CDP
// (createCDPConnection, which uses se:cdp) and quits. The last line on
// stdout is one JSON object that says what happened.
//
//   node webdriver_client.mjs SERVER_URL PAGE_URL [--no-quit] [--timeout SECONDS]
//
// SERVER_URL: http://user:TOKEN@host:port or .../wd/hub (Basic auth from the URL).
// Exit codes: 0 worked; 1 failed; 2 usage; 124 timeout.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Builder } = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.length < 2) finish({ ok: false, error: 'usage: webdriver_client.mjs SERVER_URL PAGE_URL' }, 2);
const [server, page] = args;
const quit = !args.includes('--no-quit');
const timeoutAt = args.indexOf('--timeout');
const timeout = timeoutAt >= 0 ? Number(args[timeoutAt + 1]) : 90;
setTimeout(() => finish({ ok: false, error: 'timeout' }, 124), timeout * 1000).unref();

async function main() {
  const result = { ok: false };
  const options = new chrome.Options().addArguments('--headless=new', '--no-sandbox', '--window-size=800,600');
  const driver = await new Builder().usingServer(server).forBrowser('chrome').setChromeOptions(options).build();
  const session = await driver.getSession();
  result.session_id = session.getId();
  const caps = await driver.getCapabilities();
  result.se_cdp = caps.get('se:cdp');
  result.warnings = caps.get('corral:warnings') ?? [];
  await driver.get(page);
  result.title = await driver.getTitle();
  result.screenshot_bytes = Buffer.from(await driver.takeScreenshot(), 'base64').length;
  const cdp = await driver.createCDPConnection('page');
  const evaluated = await cdp.send('Runtime.evaluate', { expression: '6 * 7', returnByValue: true });
  result.cdp_evaluate = evaluated?.result?.result?.value ?? null;
  driver._cdpWsConnection?.close();
  if (quit) await driver.quit();
  result.ok = true;
  return result;
}

main().then(
  (result) => finish(result, 0),
  (error) => finish({ ok: false, name: error?.name ?? 'Error', error: String(error?.message ?? error) }, 1),
);
