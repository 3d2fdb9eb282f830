#!/usr/bin/env node
// The network bench's CDP client (bench/network/network_bench.py): one
// WebSocket per session, each to a page target through corral's relay, all
// held open at once in one process, so that the bench can alternate between
// a session in a network of its own and one on the host's network.
//
//   node network_cdp.mjs NAME=WS_URL [NAME=WS_URL ...]
//
// Then one JSON command a line on stdin, one JSON answer a line on stdout:
//   {"op":"calls","via":NAME,"method":M,"count":N}  N sequential calls of M (no params):
//       {"times_us":[...]}, each from send to its answer
//   {"op":"evaluate","via":NAME,"expression":E}  Runtime.evaluate, awaiting a promise,
//       returned by value: {"value":...}
// It uses the `ws` package that puppeteer-core brings into
// tests/clients/node_modules (as bench/cdp_client.mjs does), nothing else.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'clients', 'package.json');
const requireClient = createRequire(CLIENTS);
const WebSocket = requireClient('ws');
const WS_VERSION = requireClient('ws/package.json').version;

const nowNs = () => process.hrtime.bigint();

class Cdp {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.waiting = new Map();
  }

  open() {
    return new Promise((resolve, reject) => {
      // Chrome offers no compression; asking for none keeps every path alike.
      this.ws = new WebSocket(this.url, { perMessageDeflate: false });
      this.ws.on('open', () => { this.ws._socket.setNoDelay(true); resolve(); });
      this.ws.on('error', reject);
      this.ws.on('message', (data) => this.answered(data));
    });
  }

  answered(data) {
    const message = JSON.parse(data.toString());
    const waiter = this.waiting.get(message.id);
    if (!waiter) return; // an event: none is enabled, but ignore any
    this.waiting.delete(message.id);
    if (message.error) waiter.reject(new Error(`${waiter.method}: ${JSON.stringify(message.error)}`));
    else waiter.resolve(message.result);
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

async function calls(link, method, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = nowNs();
    await link.call(method);
    times.push(Math.round(Number(nowNs() - start) / 100) / 10); // µs, one decimal
  }
  return { times_us: times };
}

async function evaluate(link, expression) {
  const { result, exceptionDetails } = await link.call('Runtime.evaluate',
    { expression, awaitPromise: true, returnByValue: true });
  if (exceptionDetails) throw new Error(`evaluate: ${JSON.stringify(exceptionDetails).slice(0, 500)}`);
  return { value: result.value };
}

async function main() {
  const links = {};
  for (const argument of process.argv.slice(2)) {
    const at = argument.indexOf('=');
    links[argument.slice(0, at)] = new Cdp(argument.slice(at + 1));
  }
  if (!Object.keys(links).length) {
    process.stderr.write('usage: network_cdp.mjs NAME=WS_URL [NAME=WS_URL ...]\n');
    process.exit(2);
  }
  await Promise.all(Object.values(links).map((link) => link.open()));
  const say = (answer) => process.stdout.write(JSON.stringify(answer) + '\n');
  say({ ready: true, ws: WS_VERSION, node: process.version });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    try {
      const link = links[command.via];
      if (!link) say({ error: `no connection named ${command.via}` });
      else if (command.op === 'calls') say(await calls(link, command.method, command.count));
      else if (command.op === 'evaluate') say(await evaluate(link, command.expression));
      else say({ error: `unknown op ${command.op}` });
    } catch (error) {
      say({ error: String(error?.message ?? error) });
    }
  }
  for (const link of Object.values(links)) link.close();
}

main().catch((error) => {
  process.stderr.write(`network_cdp: ${error?.stack ?? error}\n`);
  process.exit(1);
});
