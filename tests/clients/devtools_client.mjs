#!/usr/bin/env node
// A real DevTools client for corral's tests: Puppeteer or Playwright connects
// to a URL exactly as an unchanged bot would, does some work (or waits for
// the browser to go away), and the last line on stdout is one JSON object
// that says what happened. See README.md beside this file.
//
//   node devtools_client.mjs MODE URL [--header 'Name: value']...
//        [--work | --hold-until-disconnect SECONDS | --expect-error]
//        [--rounds N] [--timeout SECONDS]
//
// MODE: puppeteer-ws (browserWSEndpoint), puppeteer-browser-url (browserURL),
//       playwright-cdp (chromium.connectOverCDP, http(s) or ws(s) URL).
// Exit codes: 0 as expected; 1 failed; 2 usage; 3 --expect-error but it
// connected; 4 --hold-until-disconnect but no disconnect came; 124 timeout.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { chromium } from 'playwright-core';

const MODES = ['puppeteer-ws', 'puppeteer-browser-url', 'playwright-cdp'];
// Random noise hardly compresses: 4200x1400 RGB pixels make a PNG of about
// 17.7 MB, over 16 MiB, so its base64 reply (~24 MB) is one huge WebSocket
// message that a proxy must carry whole.
const SHOT = { width: 4200, height: 1400, seed: 20240917 };
const SIXTEEN_MIB = 16 * 1024 * 1024;

const now = () => performance.timeOrigin + performance.now(); // wall-clock ms, monotonic within this run

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

// Playwright colours its call logs; a test wants plain text.
const ANSI = /\u001b\[[0-9;]*m/g;

function errorJson(error) {
  return { name: error?.name ?? 'Error', message: String(error?.message ?? error).replace(ANSI, '') };
}

function usage(message) {
  finish({ ok: false, error: { name: 'UsageError', message } }, 2);
}

function parseArgs(argv) {
  const [mode, url, ...rest] = argv;
  if (!MODES.includes(mode)) usage(`mode must be one of ${MODES.join(', ')}`);
  if (!url) usage('no URL');
  const options = { mode, url, headers: {}, action: 'work', hold: 0, rounds: 1, timeout: 60 };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => (i + 1 < rest.length ? rest[++i] : usage(`${flag} needs a value`));
    if (flag === '--header') {
      const text = value();
      const colon = text.indexOf(':');
      if (colon <= 0) usage(`--header wants 'Name: value', not ${text}`);
      options.headers[text.slice(0, colon).trim()] = text.slice(colon + 1).trim();
    } else if (flag === '--work') options.action = 'work';
    else if (flag === '--expect-error') options.action = 'expect-error';
    else if (flag === '--hold-until-disconnect') { options.action = 'hold'; options.hold = Number(value()); }
    else if (flag === '--rounds') options.rounds = Number(value());
    else if (flag === '--timeout') options.timeout = Number(value());
    else usage(`unknown argument ${flag}`);
  }
  for (const key of ['hold', 'rounds', 'timeout']) {
    if (!(options[key] >= 0) || (key !== 'hold' && !(options[key] > 0))) usage(`bad --${key}`);
  }
  return options;
}

function clientVersion(mode) {
  const name = mode.startsWith('puppeteer') ? 'puppeteer-core' : 'playwright-core';
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8'));
  return `${name}@${manifest.version}`;
}

// --- connecting: one adapter per client library ----------------------------

// Both libraries end up with the same small surface: version, a new page with
// evaluate/setContent/screenshot/close, an 'disconnected' event, and a way to
// let go of the browser without closing it.
async function connect(options) {
  const { mode, url, headers, timeout } = options;
  if (mode === 'playwright-cdp') {
    const browser = await chromium.connectOverCDP(url, { headers, timeout: timeout * 1000 });
    return {
      version: () => browser.version(),
      onDisconnected: (callback) => browser.on('disconnected', callback),
      newPage: async () => {
        // A bot over CDP works in the browser's own default context.
        const context = browser.contexts()[0] ?? (await browser.newContext());
        const page = await context.newPage();
        return {
          setViewport: (size) => page.setViewportSize(size),
          evaluate: (expression) => page.evaluate(expression),
          setContent: (html) => page.setContent(html),
          screenshot: () => page.screenshot({ type: 'png', timeout: timeout * 1000 }),
          close: () => page.close(),
        };
      },
      // Over CDP, Playwright's close() only drops the connection.
      release: () => browser.close(),
    };
  }
  const connectOptions = mode === 'puppeteer-ws'
    ? { browserWSEndpoint: url, headers, protocolTimeout: timeout * 1000 }
    : { browserURL: url, headers, protocolTimeout: timeout * 1000 };
  const browser = await puppeteer.connect({ ...connectOptions, defaultViewport: null });
  return {
    version: () => browser.version(),
    onDisconnected: (callback) => browser.on('disconnected', callback),
    newPage: async () => {
      const page = await browser.newPage();
      return {
        setViewport: (size) => page.setViewport({ ...size, deviceScaleFactor: 1 }),
        evaluate: (expression) => page.evaluate(expression),
        setContent: (html) => page.setContent(html),
        screenshot: () => page.screenshot({ type: 'png' }),
        close: () => page.close(),
      };
    },
    release: () => browser.disconnect(),
  };
}

// --- the work: a page, an evaluate, a big screenshot checked byte for byte --

function noisePage({ width, height, seed }) {
  // xorshift32, seeded: the same pixels every run, so the same PNG.
  return `<!doctype html><html><head><style>
html,body{margin:0;padding:0;overflow:hidden;background:#000}canvas{display:block}
</style></head><body><canvas id="c" width="${width}" height="${height}"></canvas><script>
const canvas = document.getElementById('c');
const context = canvas.getContext('2d');
const image = context.createImageData(${width}, ${height});
const words = new Uint32Array(image.data.buffer);
let x = ${seed} >>> 0;
for (let i = 0; i < words.length; i++) {
  x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  words[i] = x | 0xff000000;  // opaque: little-endian RGBA, alpha in the top byte
}
context.putImageData(image, 0, 0);
</script></body></html>`;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Throws unless png is a whole PNG: signature, every chunk's CRC-32 right,
// IHDR first and IEND last with nothing after it. Returns its dimensions.
function checkPng(png) {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('screenshot: no PNG signature');
  let offset = 8, chunks = 0, size = null;
  for (;;) {
    if (offset + 12 > png.length) throw new Error(`screenshot: truncated at byte ${offset}`);
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const end = offset + 8 + length;
    if (end + 4 > png.length) throw new Error(`screenshot: chunk ${type} runs past the end`);
    const stored = png.readUInt32BE(end);
    if (crc32(png.subarray(offset + 4, end)) !== stored) throw new Error(`screenshot: bad CRC in chunk ${chunks} (${type})`);
    if (chunks === 0) {
      if (type !== 'IHDR') throw new Error('screenshot: first chunk is not IHDR');
      size = { width: png.readUInt32BE(offset + 8), height: png.readUInt32BE(offset + 12) };
    }
    chunks++;
    offset = end + 4;
    if (type === 'IEND') break;
  }
  if (offset !== png.length) throw new Error(`screenshot: ${png.length - offset} bytes after IEND`);
  return { ...size, chunks };
}

async function work(browser) {
  const started = now();
  const page = await browser.newPage();
  const evaluate = await page.evaluate('1+1');
  await page.setViewport({ width: SHOT.width, height: SHOT.height });
  await page.setContent(noisePage(SHOT));
  const png = Buffer.from(await page.screenshot());
  const { width, height, chunks } = checkPng(png);
  if (width !== SHOT.width || height !== SHOT.height) {
    throw new Error(`screenshot is ${width}x${height}, not ${SHOT.width}x${SHOT.height}`);
  }
  if (png.length <= SIXTEEN_MIB) throw new Error(`screenshot is only ${png.length} bytes`);
  await page.close();
  return {
    evaluate,
    screenshot_bytes: png.length,
    screenshot_sha256: createHash('sha256').update(png).digest('hex'),
    screenshot_size: `${width}x${height}`,
    screenshot_chunks: chunks,
    ms: Math.round(now() - started),
  };
}

// --- the actions -----------------------------------------------------------

async function runWork(options, base) {
  const rounds = [];
  let version;
  for (let round = 0; round < options.rounds; round++) {
    const browser = await connect(options);
    version = await browser.version();
    rounds.push(await work(browser));
    await browser.release();
  }
  const { ms, ...first } = rounds[0];
  finish({ ...base, ok: true, version, ...first, rounds: rounds.length, round_ms: rounds.map((r) => r.ms) }, 0);
}

async function runExpectError(options, base) {
  let browser;
  try {
    browser = await connect(options);
  } catch (error) {
    finish({ ...base, ok: true, error: errorJson(error) }, 0);
  }
  const version = await browser.version().catch(() => null);
  await browser.release().catch(() => {});
  finish({ ...base, ok: false, error: { name: 'UnexpectedConnect', message: `connected to ${version}` } }, 3);
}

// Prints `connected`, then sends nothing: the test kills the browser and
// compares its own kill time with disconnected_at_ms (both epoch ms).
async function runHold(options, base) {
  const browser = await connect(options);
  const version = await browser.version();
  const connectedAt = now();
  const disconnected = new Promise((resolve) => browser.onDisconnected(() => resolve(now())));
  process.stdout.write('connected\n');
  const timer = new Promise((resolve) => setTimeout(resolve, options.hold * 1000, null));
  const at = await Promise.race([disconnected, timer]);
  if (at === null) {
    await browser.release().catch(() => {});
    finish({ ...base, ok: false, version, error: { name: 'NoDisconnect', message: `still connected after ${options.hold} s` } }, 4);
  }
  finish({ ...base, ok: true, version, connected_at_ms: connectedAt, disconnected_at_ms: at, held_ms: Math.round(at - connectedAt) }, 0);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const base = { mode: options.mode, action: options.action, client: clientVersion(options.mode) };
  // A hung client must never hang a test.
  setTimeout(() => finish({ ...base, ok: false, error: { name: 'Timeout', message: `no result in ${options.timeout} s` } }, 124),
    options.timeout * 1000);
  try {
    if (options.action === 'expect-error') await runExpectError(options, base);
    else if (options.action === 'hold') await runHold(options, base);
    else await runWork(options, base);
  } catch (error) {
    finish({ ...base, ok: false, error: errorJson(error) }, 1);
  }
}

main();
