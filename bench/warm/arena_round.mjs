#!/usr/bin/env node
// BrowserArena's round with puppeteer-core (bench/warm/arena_bench.py):
// create a browser, connect, goto a page, release, one after another,
// timed here, in one Node process for every side so that the client's own
// cost is the same on each.
//
//   node arena_round.mjs
//
// Then one JSON command a line on stdin, one JSON answer a line on stdout:
//   {"side":"local","page":URL,"chromium":PATH,"args":[...]}
//       puppeteer.launch (create and connect in one), goto, browser.close()
//   {"side":"corral-api","page":URL,"corral":"http://HOST:PORT"}
//       POST /v1/sessions, puppeteer.connect to its devtools.ws, goto,
//       disconnect, DELETE /v1/sessions/{id}?wait=0 (the cleanup runs on
//       without the bot: it is corral's, as a hosted service's release is)
//   {"side":"corral-launch","page":URL,"corral":"ws://HOST:PORT"}
//       puppeteer.connect to /devtools/browser (connect-to-launch: the
//       session opens with the connection), goto, browser.close()
// Each answer: {"ms":total,"create_ms","connect_ms","goto_ms","release_ms"}
// (create and connect are one step locally and through connect-to-launch:
// create_ms 0), or {"error":message}.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'clients', 'package.json');
const puppeteer = createRequire(CLIENTS)('puppeteer-core');

const now = () => performance.now();

// Runs the steps in order, timing each; the round's total is their sum.
async function timed(steps) {
  const times = {};
  for (const [name, step] of steps) {
    const start = now();
    await step();
    times[`${name}_ms`] = Math.round((now() - start) * 100) / 100;
  }
  times.ms = Math.round(Object.values(times).reduce((a, b) => a + b, 0) * 100) / 100;
  return times;
}

async function gotoPage(browser, url) {
  const page = await browser.newPage();
  const answer = await page.goto(url, { waitUntil: 'load' });
  if (!answer || answer.status() !== 200) throw new Error(`goto ${url}: ${answer && answer.status()}`);
}

function local(command) {
  let browser;
  return timed([
    ['create', async () => {}],
    ['connect', async () => {
      browser = await puppeteer.launch({ executablePath: command.chromium, args: command.args, headless: true });
    }],
    ['goto', () => gotoPage(browser, command.page)],
    ['release', () => browser.close()],
  ]);
}

async function corralApi(command) {
  let session, browser;
  return timed([
    ['create', async () => {
      const answer = await fetch(`${command.corral}/v1/sessions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"kind":"chrome"}',
      });
      session = await answer.json();
      if (answer.status !== 201) throw new Error(`open: ${answer.status} ${JSON.stringify(session)}`);
    }],
    ['connect', async () => {
      browser = await puppeteer.connect({ browserWSEndpoint: session.devtools.ws, defaultViewport: null });
    }],
    ['goto', () => gotoPage(browser, command.page)],
    ['release', async () => {
      await browser.disconnect();
      const answer = await fetch(`${command.corral}/v1/sessions/${session.id}?wait=0`, { method: 'DELETE' });
      if (answer.status !== 202) throw new Error(`close: ${answer.status} ${await answer.text()}`);
    }],
  ]);
}

function corralLaunch(command) {
  let browser;
  return timed([
    ['create', async () => {}],
    ['connect', async () => {
      browser = await puppeteer.connect({ browserWSEndpoint: `${command.corral}/devtools/browser`, defaultViewport: null });
    }],
    ['goto', () => gotoPage(browser, command.page)],
    ['release', () => browser.close()],
  ]);
}

const SIDES = { local, 'corral-api': corralApi, 'corral-launch': corralLaunch };

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line);
  let answer;
  try {
    answer = await SIDES[command.side](command);
  } catch (failure) {
    answer = { error: String(failure && failure.stack || failure) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
