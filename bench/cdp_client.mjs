#!/usr/bin/env node
// The bench's raw CDP client (bench/scenarios/devtools_proxy.py): one page
// target, two WebSockets to it held open at once, one direct to the
// browser's own port and one through corral, so that the bench can
// alternate between them within one process, one browser and one page;
// and a third, through bench/relay/bare_relay.c, when one is given.
//
//   node cdp_client.mjs DIRECT_WS CORRAL_WS [BARE_WS]
//
// Then one JSON command a line on stdin, one JSON answer a line on stdout:
//   {"op":"setup","width":W,"height":H,"seed":S}  the noise page, and its size on both connections
//   {"op":"evals","via":"direct"|"corral"|"bare","count":N}  N sequential Runtime.evaluate of 1+1
//   {"op":"shots","via":...,"count":N}  N sequential Page.captureScreenshot (PNG)
//   {"op":"calls","via":...,"method":M,"count":N}  N sequential calls of M without parameters
//     (bench/relay/relay_bench.py: Browser.getVersion, a command that costs the browser little)
// It uses the `ws` package that puppeteer-core brings into
// tests/clients/node_modules (tools/setup installs it), nothing else.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'tests', 'clients', 'package.json');
const requireClient = createRequire(CLIENTS);
const WebSocket = requireClient('ws');
const WS_VERSION = requireClient('ws/package.json').version;

const nowNs = () => process.hrtime.bigint();
const usSince = (start) => Number(nowNs() - start) / 1000;

class Cdp {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.waiting = new Map();
    this.firstChunkNs = null; // the first bytes that came after arm()
    this.armed = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      // Chrome offers no compression; asking for none keeps both paths alike.
      this.ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 });
      this.ws.on('open', () => {
        this.ws._socket.setNoDelay(true);
        this.ws._socket.on('data', () => {
          if (this.armed) { this.firstChunkNs = nowNs(); this.armed = false; }
        });
        resolve();
      });
      this.ws.on('error', reject);
      this.ws.on('message', (data) => this.answered(data));
    });
  }

  answered(data) {
    const atNs = nowNs();
    const text = data.toString();
    const message = JSON.parse(text);
    const waiter = this.waiting.get(message.id);
    if (!waiter) return; // an event: none is enabled, but ignore any
    this.waiting.delete(message.id);
    if (message.error) waiter.reject(new Error(`${waiter.method}: ${JSON.stringify(message.error)}`));
    else waiter.resolve({ result: message.result, bytes: Buffer.byteLength(text), atNs });
  }

  call(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close() { this.ws.close(); }
}

function noisePage({ width, height, seed }) {
  // As tests/clients/devtools_client.mjs: xorshift32 noise hardly compresses,
  // so 4200x1400 pixels make a PNG of about 17.7 MB (over 16 MiB).
  return `<!doctype html><html><head><style>
html,body{margin:0;padding:0;overflow:hidden;background:#000}canvas{display:block}
</style></head><body><canvas id="c" width="${width}" height="${height}"></canvas><script>
const context = document.getElementById('c').getContext('2d');
const image = context.createImageData(${width}, ${height});
const words = new Uint32Array(image.data.buffer);
let x = ${seed} >>> 0;
for (let i = 0; i < words.length; i++) {
  x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  words[i] = x | 0xff000000;
}
context.putImageData(image, 0, 0);
document.title = 'noise ready';
</script></body></html>`;
}

async function setup(links, { width, height, seed }) {
  const direct = links.direct;
  await direct.call('Page.navigate', { url: 'data:text/html;base64,' + Buffer.from(noisePage({ width, height, seed })).toString('base64') });
  const deadline = Date.now() + 30000;
  for (;;) {
    const { result } = await direct.call('Runtime.evaluate', { expression: 'document.title', returnByValue: true });
    if (result.result.value === 'noise ready') break;
    if (Date.now() > deadline) throw new Error('the noise page did not load within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  // An override lasts as long as the connection that set it: set it on both.
  for (const link of Object.values(links))
    await link.call('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
  return { ok: true };
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function evals(link, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = nowNs();
    const { result } = await link.call('Runtime.evaluate', { expression: '1+1' });
    times.push(usSince(start));
    if (result.result.value !== 2) throw new Error(`1+1 gave ${JSON.stringify(result)}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 10) / 10;
  return { count, median_us: round(quantile(sorted, 0.5)), p90_us: round(quantile(sorted, 0.9)),
           p99_us: round(quantile(sorted, 0.99)), min_us: round(sorted[0]),
           mean_us: round(times.reduce((a, b) => a + b, 0) / count) };
}

// The time of each call alone shows the path's cost; a command without
// parameters whose answer the browser has at hand leaves little else.
async function calls(link, method, count) {
  const times = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = nowNs();
    const { result } = await link.call(method);
    times[i] = usSince(start);
    if (!result) throw new Error(`${method} gave no result`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 10) / 10;
  return { count, method, median_us: round(quantile(sorted, 0.5)), p90_us: round(quantile(sorted, 0.9)),
           p99_us: round(quantile(sorted, 0.99)), min_us: round(sorted[0]),
           mean_us: round(times.reduce((a, b) => a + b, 0) / count) };
}

async function shots(link, count) {
  const made = [];
  for (let i = 0; i < count; i++) {
    link.firstChunkNs = null;
    link.armed = true;
    const start = nowNs();
    const { result, bytes, atNs } = await link.call('Page.captureScreenshot', { format: 'png' });
    const totalMs = Number(atNs - start) / 1e6;
    const transferMs = link.firstChunkNs ? Number(atNs - link.firstChunkNs) / 1e6 : null;
    made.push({ png_bytes: Buffer.byteLength(result.data, 'base64'), message_bytes: bytes,
                total_ms: Math.round(totalMs * 10) / 10, transfer_ms: transferMs && Math.round(transferMs * 10) / 10 });
  }
  return { shots: made };
}

async function main() {
  const [directUrl, corralUrl, bareUrl] = process.argv.slice(2);
  if (!directUrl || !corralUrl) {
    process.stderr.write('usage: cdp_client.mjs DIRECT_WS CORRAL_WS [BARE_WS]\n');
    process.exit(2);
  }
  const links = { direct: new Cdp(directUrl), corral: new Cdp(corralUrl) };
  if (bareUrl) links.bare = new Cdp(bareUrl);
  await Promise.all(Object.values(links).map((link) => link.open()));
  const say = (answer) => process.stdout.write(JSON.stringify(answer) + '\n');
  say({ ready: true, ws: WS_VERSION, node: process.version });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    try {
      if (command.op === 'setup') say(await setup(links, command));
      else if (command.op === 'evals') say(await evals(links[command.via], command.count));
      else if (command.op === 'calls') say(await calls(links[command.via], command.method, command.count));
      else if (command.op === 'shots') say(await shots(links[command.via], command.count));
      else say({ error: `unknown op ${command.op}` });
    } catch (error) {
      say({ error: String(error?.message ?? error) });
    }
  }
  for (const link of Object.values(links)) link.close();
}

main().catch((error) => {
  process.stderr.write(`cdp_client: ${error?.stack ?? error}\n`);
  process.exit(1);
});
