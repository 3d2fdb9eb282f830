#!/usr/bin/env node
// The console (/ui/) in a real headless Chromium (Playwright), as an
// operator uses it, for tests/e2e/test_console.py. One scenario a run; the
// last stdout line is one JSON object: {ok, ...what the scenario saw}.
//
//   node console_client.mjs SCENARIO CORRAL_URL TOKEN [--timeout SECONDS]
//
// Scenarios (console_scenarios.mjs): login-and-list, live-view,
// take-over, foreign-origin. A scenario opens and closes its sessions
// through the API itself (fetch with the token); bots are Puppeteer.
import { chromium } from 'playwright-core';
import { SCENARIOS } from './console_scenarios.mjs';

const ANSI = /\u001b\[[0-9;]*m/g;

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

const [scenario, corral, token, ...rest] = process.argv.slice(2);
if (!SCENARIOS[scenario] || !corral || token === undefined)
  finish({ ok: false, error: `usage: console_client.mjs (${Object.keys(SCENARIOS).join('|')}) URL TOKEN` }, 2);
const timeout = rest[0] === '--timeout' ? Number(rest[1]) : 90;
setTimeout(() => finish({ ok: false, error: 'timeout' }, 124), timeout * 1000).unref();

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                        args: ['--no-sandbox', '--disable-dev-shm-usage'] });
let code = 0, result;
try {
  result = { ok: true, ...(await SCENARIOS[scenario]({ browser, corral, token })) };
} catch (error) {
  result = { ok: false, error: String(error?.stack ?? error).replace(ANSI, '') };
  code = 1;
} finally {
  await browser.close().catch(() => {});
}
finish(result, code);
