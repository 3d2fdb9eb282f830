// The scenarios of console_client.mjs: each gets {browser, corral, token}
// (a Playwright Chromium, corral's base URL, the API token) and returns
// what it saw; it throws when the console does not do its part.
import http from 'node:http';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const { Builder } = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');

const RED = 'data:text/html,<body style="margin:0;background:rgb(255,0,0)">red';
const BLUE = 'data:text/html,<body style="margin:0;background:rgb(0,0,255)">blue';
const FORM = 'data:text/html,<body style="margin:0;background:white"><input id="f" autocomplete="off" ' +
  'style="position:absolute;left:0;top:0;width:400px;height:60px;font-size:30px">';

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function waitFor(what, check, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(100);
  }
}

function api(corral, token) {
  return async (method, path, body) => {
    const headers = { Authorization: 'Bearer ' + token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(corral + path, { method, headers, body: body && JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

// A page of the console, logged in with the token.
async function openConsole(browser, corral, token) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(corral + '/ui/');
  await page.waitForSelector('#login', { state: 'visible' });
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#fleet', { state: 'visible' });
  return { context, page };
}

// A chrome session and its bot: Puppeteer on the session's DevTools URL.
async function botSession(call, labels = { test: 'console' }) {
  const opened = await call('POST', '/v1/sessions', { kind: 'chrome', labels });
  if (opened.status !== 201) throw new Error('open: ' + JSON.stringify(opened.body));
  const bot = await puppeteer.connect({ browserWSEndpoint: opened.body.devtools.ws, defaultViewport: null });
  const pages = await bot.pages();
  const page = pages.length ? pages[0] : await bot.newPage();
  return { session: opened.body, bot, page };
}

function centrePixel(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('screen');
    const d = canvas.getContext('2d').getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    return [d[0], d[1], d[2]];
  });
}
const isRed = ([r, g, b]) => r > 200 && g < 70 && b < 70;
const isBlue = ([r, g, b]) => b > 200 && r < 70 && g < 70;

// Screencast frames that reach the page over any of its WebSockets.
function countScreencastFrames(page) {
  const seen = { frames: 0, sockets: 0, closed: 0 };
  page.on('websocket', ws => {
    seen.sockets++;
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' && payload.includes('"Page.screencastFrame"')) seen.frames++;
    });
    ws.on('close', () => seen.closed++);
  });
  return seen;
}

async function loginAndList({ browser, corral, token }) {
  const call = api(corral, token);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(corral + '/ui/');
  await page.waitForSelector('#login', { state: 'visible' });
  const withoutToken = { fleet_hidden: await page.isHidden('#fleet'),
                         rows: await page.locator('#sessions tbody tr').count() };
  await page.fill('#token', 'not-the-token');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
  const wrongToken = { error: await page.textContent('#login-error'), fleet_hidden: await page.isHidden('#fleet'),
                       login_shown: await page.isVisible('#login') };
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#fleet', { state: 'visible' });
  await page.evaluate(() => { window.notReloaded = true; });
  const a = await call('POST', '/v1/sessions', { labels: { test: 'console', n: '1' } });
  const b = await call('POST', '/v1/sessions', { labels: { test: 'console', n: '2' } });
  const openedAt = Date.now();
  for (const s of [a, b]) await page.waitForSelector(`#sessions tr[data-id="${s.body.id}"]`);
  const appearedMs = Date.now() - openedAt;
  await page.fill('#filter', 'n=1');
  await waitFor('the filter', async () => (await page.locator('#sessions tbody tr').count()) === 1);
  const filtered = await page.getAttribute('#sessions tbody tr', 'data-id');
  await page.fill('#filter', '');
  const closed = await call('DELETE', `/v1/sessions/${a.body.id}?grace=0`);
  await page.waitForSelector(`#closed tr[data-id="${a.body.id}"]`);
  await page.waitForSelector(`#sessions tr[data-id="${a.body.id}"]`, { state: 'detached' });
  const closedRow = await page.$$eval(`#closed tr[data-id="${a.body.id}"] td`, tds => tds.map(td => td.textContent));
  // The other one by the console's own Close button, with its report shown.
  await page.click(`#sessions tr[data-id="${b.body.id}"] button[data-action="close"]`);
  await page.click('#confirm-yes');
  await page.waitForSelector('#report[open]');
  const report = JSON.parse(await page.textContent('#report-text'));
  return { without_token: withoutToken, wrong_token: wrongToken, appeared_ms: appearedMs, ids: [a.body.id, b.body.id],
           filtered, api_report: closed.body, closed_row: closedRow, console_report: report,
           not_reloaded: await page.evaluate(() => window.notReloaded === true),
           url: page.url(), cookies: await context.cookies(),
           stored: await page.evaluate(() => sessionStorage.getItem('corral-token') !== null) };
}

async function liveView({ browser, corral, token }) {
  const call = api(corral, token);
  const { session, bot, page: botPage } = await botSession(call);
  await botPage.goto(RED);
  const { page } = await openConsole(browser, corral, token);
  const seen = countScreencastFrames(page);
  await page.evaluate(id => { location.hash = '#/session/' + id; }, session.id);
  await page.waitForFunction(() => Number(document.getElementById('screen').dataset.frames) > 0);
  const first = await waitFor('a red frame', async () => { const p = await centrePixel(page); return isRed(p) && p; });
  const tabs = await page.$$eval('#tabs .tab', t => t.map(x => x.dataset.url));
  await botPage.goto(BLUE);
  const second = await waitFor('a blue frame', async () => { const p = await centrePixel(page); return isBlue(p) && p; });
  // The rate: the bot changes its page every 50 ms for 2 s.
  const before = seen.frames, rateStart = Date.now();
  for (let i = 0; i < 40; i++) { await botPage.evaluate(i => { document.body.textContent = 'n' + i; }, i); await sleep(50); }
  const perSecond = (seen.frames - before) / ((Date.now() - rateStart) / 1000);
  await page.evaluate(() => { location.hash = '#'; });
  await sleep(1000);
  const atClose = { frames: seen.frames, sockets: seen.sockets, closed: seen.closed };
  for (let i = 0; i < 6; i++) { await botPage.goto(i % 2 ? BLUE : RED); await sleep(400); }
  const afterClose = seen.frames - atClose.frames;
  const botStillWorks = await botPage.evaluate(() => 1 + 1) === 2;
  await bot.disconnect();
  await call('DELETE', `/v1/sessions/${session.id}?grace=0`);
  return { first, second, tabs, frames_while_watching: atClose.frames, frames_per_second: perSecond,
           sockets: atClose.sockets, sockets_closed: atClose.closed, frames_after_close: afterClose,
           bot_still_works: botStillWorks };
}

// The same for a Selenium bot: the console watches through the session's
// se/cdp relay while the bot navigates by WebDriver.
async function liveViewWebDriver({ browser, corral, token }) {
  const call = api(corral, token);
  const options = new chrome.Options().addArguments('--headless=new', '--no-sandbox', '--window-size=800,600');
  const remote = corral.replace('http://', `http://bot:${encodeURIComponent(token)}@`);
  const driver = await new Builder().usingServer(remote).forBrowser('chrome').setChromeOptions(options).build();
  const id = (await driver.getSession()).getId();
  await driver.get(RED);
  const { page } = await openConsole(browser, corral, token);
  const seen = countScreencastFrames(page);
  await page.evaluate(id => { location.hash = '#/session/' + id; }, id);
  const first = await waitFor('a red frame', async () => { const p = await centrePixel(page); return isRed(p) && p; });
  await driver.get(BLUE);
  const second = await waitFor('a blue frame', async () => { const p = await centrePixel(page); return isBlue(p) && p; });
  await page.evaluate(() => { location.hash = '#'; });
  await sleep(1000);
  const atClose = seen.frames;
  for (let i = 0; i < 4; i++) { await driver.get(i % 2 ? BLUE : RED); await sleep(400); }
  const title = await driver.executeScript('return document.body.textContent');
  await driver.quit();
  return { kind: (await call('GET', `/v1/sessions/${id}`)).body.kind, first, second, frames_while_watching: atClose,
           frames_after_close: seen.frames - atClose, sockets: seen.sockets, sockets_closed: seen.closed,
           bot_still_works: title === 'blue' };
}

async function takeOver({ browser, corral, token }) {
  const call = api(corral, token);
  const { session, bot, page: botPage } = await botSession(call);
  await botPage.goto(FORM);
  const { page } = await openConsole(browser, corral, token);
  await page.evaluate(id => { location.hash = '#/session/' + id; }, session.id);
  await page.waitForFunction(() => Number(document.getElementById('screen').dataset.frames) > 0);
  const before = (await call('GET', `/v1/sessions/${session.id}`)).body.controlled_by_console;
  await page.click('#take-over');
  await page.click('#confirm-yes');
  await page.waitForSelector('#release', { state: 'visible' });
  const during = (await call('GET', `/v1/sessions/${session.id}`)).body.controlled_by_console;
  const markShown = await page.isVisible('#live-mark');
  // The field's centre on the page, as a point on the canvas.
  const point = await page.evaluate(() => {
    const c = document.getElementById('screen'), box = c.getBoundingClientRect();
    return { x: box.left + 100 * box.width / c.width, y: box.top + 30 * box.height / c.height };
  });
  await page.mouse.click(point.x, point.y);
  await page.keyboard.type('hello corralx');
  await page.keyboard.press('Backspace');  // a key that edits without typing
  const typed = await waitFor('the typed value', async () => {
    const value = await botPage.$eval('#f', f => f.value);
    return value === 'hello corral' && value;
  });
  await page.click('#release');
  await waitFor('the mark to clear', async () =>
    (await call('GET', `/v1/sessions/${session.id}`)).body.controlled_by_console === false);
  await bot.disconnect();
  await call('DELETE', `/v1/sessions/${session.id}?grace=0`);
  return { before, during, mark_shown: markShown, typed, after: false };
}

// A page on another origin (a second local server) in the same browser,
// beside a logged-in console: what can it read, and what can it make
// corral do?
async function foreignOrigin({ browser, corral, token }) {
  const call = api(corral, token);
  const { session, bot } = await botSession(call, { test: 'foreign' });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>elsewhere</title>');
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const elsewhere = `http://127.0.0.1:${server.address().port}/`;
  const { context } = await openConsole(browser, corral, token);
  const page = await context.newPage();
  await page.goto(elsewhere);
  const tried = await page.evaluate(async ({ corral, ws, id }) => {
    const out = {};
    out.token_visible = sessionStorage.getItem('corral-token');
    try { await (await fetch(corral + '/v1/sessions')).text(); out.read = 'read'; } catch (e) { out.read = 'blocked'; }
    for (const [name, method, path] of [['open', 'POST', '/v1/sessions'], ['close', 'DELETE', '/v1/sessions/' + id]])
      try {
        await fetch(corral + path, { method, mode: 'no-cors', body: method === 'POST' ? '{}' : undefined });
        out[name] = 'sent';
      } catch (e) { out[name] = 'blocked'; }
    out.websocket = await new Promise(resolve => {
      const socket = new WebSocket(ws);
      socket.onopen = () => { socket.close(); resolve('open'); };
      socket.onerror = () => resolve('refused');
    });
    const frame = document.createElement('iframe');
    frame.src = corral + '/ui/';
    document.body.appendChild(frame);
    await new Promise(resolve => { frame.onload = resolve; setTimeout(resolve, 3000); });
    try { out.frame_document = frame.contentWindow.document.title; } catch (e) { out.frame_document = 'blocked'; }
    return out;
  }, { corral, ws: session.devtools.ws, id: session.id });
  tried.frame_urls = page.frames().map(f => f.url());
  const listed = (await call('GET', '/v1/sessions')).body.sessions;
  tried.sessions_after = listed.map(s => s.id);
  tried.session = session.id;
  await bot.disconnect();
  await call('DELETE', `/v1/sessions/${session.id}?grace=0`);
  server.close();
  return tried;
}

// Fifty sessions listed: every poll (four requests and the table) ends
// well within a second, and a close shows within two polls.
async function fifty({ browser, corral, token }) {
  const call = api(corral, token);
  const ids = [];
  for (let batch = 0; batch < 5; batch++)
    ids.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) =>
      call('POST', '/v1/sessions', { labels: { n: String(batch * 10 + i) } }).then(r => r.body.id)))));
  const { page } = await openConsole(browser, corral, token);
  await waitFor('fifty rows', async () => (await page.locator('#sessions tbody tr').count()) === 50);
  const polls = [];
  for (let i = 0; i < 5; i++) {
    await sleep(1000);
    polls.push(Number(await page.getAttribute('#status', 'data-poll-ms')));
  }
  const errors = await page.textContent('#status');
  const closedAt = Date.now();
  await call('DELETE', `/v1/sessions/${ids[0]}?grace=0`);
  await page.waitForSelector(`#sessions tr[data-id="${ids[0]}"]`, { state: 'detached' });
  const shownMs = Date.now() - closedAt;
  await Promise.all(ids.slice(1).map(id => call('DELETE', `/v1/sessions/${id}?grace=0`)));
  return { poll_ms: polls, status: errors, close_shown_ms: shownMs };
}

// What watching costs: a bot's page that changes on every animation frame,
// 5 s unwatched, 5 s watched, then 5 s after the view closed; the phases'
// times (epoch ms) for the test's own CPU samples, and the stream's size.
const ANIMATED = 'data:text/html,' + encodeURIComponent(
  '<body style="margin:0;font:40px sans-serif"><p id="n"></p><script>let i=0;(function f(){' +
  'document.getElementById("n").textContent=i++;document.body.style.background="hsl("+(i%360)+",70%,60%)";' +
  'requestAnimationFrame(f)})()</script>');

async function measure({ browser, corral, token }) {
  const call = api(corral, token);
  const { session, bot, page: botPage } = await botSession(call);
  await botPage.goto(ANIMATED);
  const { page } = await openConsole(browser, corral, token);
  const stream = { frames: 0, bytes: 0 };
  page.on('websocket', ws => ws.on('framereceived', ({ payload }) => {
    if (typeof payload === 'string' && payload.includes('"Page.screencastFrame"')) {
      stream.frames++;
      stream.bytes += payload.length;
    }
  }));
  const phases = { unwatched: Date.now() };
  await sleep(5000);
  phases.watched = Date.now();
  await page.evaluate(id => { location.hash = '#/session/' + id; }, session.id);
  await sleep(5000);
  phases.closed = Date.now();
  const watched = { ...stream, seconds: (phases.closed - phases.watched) / 1000 };
  await page.evaluate(() => { location.hash = '#'; });
  await sleep(1000);  // frames already on their way when the view closed
  const settled = stream.frames;
  await sleep(4000);
  phases.end = Date.now();
  await bot.disconnect();
  await call('DELETE', `/v1/sessions/${session.id}?grace=0`);
  return { session: session.id, cgroup: session.cgroup, phases, frames_per_second: watched.frames / watched.seconds,
           bytes_per_second: watched.bytes / watched.seconds, frames_after_close: stream.frames - settled };
}

// A corrald without a token, and a caller it serves without one (this
// browser runs as root): no login, straight to the list; Keep alive works.
async function tokenless({ browser, corral }) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(corral + '/ui/');
  await page.waitForSelector('#fleet', { state: 'visible' });
  const opened = await (await fetch(corral + '/v1/sessions', { method: 'POST' })).json();
  const idleEnd = async () => (await (await fetch(corral + '/v1/sessions')).json()).sessions[0].idle_expires_at;
  const before = await idleEnd();
  await sleep(1100);
  await page.click(`#sessions tr[data-id="${opened.id}"] button[data-action="keepalive"]`);
  await waitFor('the keepalive', async () => (await idleEnd()) > before);
  const result = { login_hidden: await page.isHidden('#login'), status: await page.textContent('#status') };
  await fetch(corral + `/v1/sessions/${opened.id}?grace=0`, { method: 'DELETE' });
  return result;
}

// The screenshots of docs/operators.md and the README, into
// $CONSOLE_SHOTS (not a test: run by hand, see docs/operators.md).
const DEMO = 'data:text/html,<body style="font:24px sans-serif;margin:40px"><h1>Checkout</h1>' +
  '<p>Step 3 of 4: a captcha a human must solve.</p><input id="f" style="font-size:24px;width:360px" ' +
  'placeholder="type the code">';

async function screenshots({ browser, corral, token }) {
  const call = api(corral, token);
  const dir = process.env.CONSOLE_SHOTS;
  const shop = await botSession(call, { bot: 'checkout', team: 'shop' });
  await shop.page.goto(DEMO);
  const crawler = await botSession(call, { bot: 'crawler', team: 'search' });
  await crawler.page.goto(RED);
  const closing = await call('POST', '/v1/sessions', { kind: 'chrome', labels: { bot: 'report', team: 'ops' } });
  await call('DELETE', `/v1/sessions/${closing.body.id}`);
  const { page } = await openConsole(browser, corral, token);
  await page.setViewportSize({ width: 1400, height: 800 });
  await sleep(5000);  // a few samples for the chart and CPU %
  await page.screenshot({ path: dir + '/console-list.png' });
  await page.evaluate(id => { location.hash = '#/session/' + id; }, shop.session.id);
  await page.waitForFunction(() => Number(document.getElementById('screen').dataset.frames) > 0);
  await page.click('#take-over');
  await page.click('#confirm-yes');
  await page.waitForSelector('#release', { state: 'visible' });
  await sleep(1500);
  await page.screenshot({ path: dir + '/console-live.png' });
  await page.click('#release');
  for (const s of [shop, crawler]) {
    await s.bot.disconnect();
    await call('DELETE', `/v1/sessions/${s.session.id}?grace=0`);
  }
  return { dir };
}

export const SCENARIOS = {
  screenshots,
  fifty,
  tokenless,
  measure,
  'login-and-list': loginAndList,
  'live-view': liveView,
  'take-over': takeOver,
  'live-view-webdriver': liveViewWebDriver,
  'foreign-origin': foreignOrigin,
};
