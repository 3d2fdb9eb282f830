// The console's entry: log in (or not, where the API needs no token), then
// the list view, polled once a second, or one session's live view
// (#/session/<id>). Plain JavaScript modules, no framework and no build
// step: the console is a few hundred lines that corral serves as they are
// written, so there is nothing to fetch from elsewhere and nothing to
// rebuild when it changes (docs/operators.md).
import { call, token, setToken, ApiError } from './api.js';
import { bytes, percent, el } from './format.js';
import { Chart } from './chart.js';
import { CpuRates } from './usage.js';
import { FleetTable, showClosed, readFleet, sessionRow, matchesFilter } from './fleet.js';
import { LiveView } from './live.js';

const POLL_MS = 1000;
const $ = id => document.getElementById(id);
const chart = new Chart($('chart'));
const rates = new CpuRates();
let live = null;
let timer = null;
let latest = null;

function only(...ids) {
  for (const id of ['login', 'refused', 'fleet', 'live']) $(id).hidden = !ids.includes(id);
  $('logout').hidden = !token();
}

async function confirmed(text) {
  $('confirm-text').textContent = text;
  $('confirm').returnValue = '';  // Escape keeps the last value otherwise
  $('confirm').showModal();
  return new Promise(resolve =>
    $('confirm').addEventListener('close', () => resolve($('confirm').returnValue === 'yes'), { once: true }));
}

function showReport(report) {
  $('report-text').textContent = JSON.stringify(report, null, 2);
  $('report').showModal();
}

async function closeSession(id, forced) {
  if (!await confirmed((forced ? 'Close session ' + id + ' now (no grace)?' : 'Close session ' + id + '?')))
    return;
  try {
    showReport(await call('DELETE', '/v1/sessions/' + id + (forced ? '?grace=0' : '')));
  } catch (e) {
    showReport(e.body || { error: e.message });
  }
  poll();
}

const table = new FleetTable($('sessions'), {
  view: id => { location.hash = '#/session/' + id; },
  keepalive: id => call('POST', '/v1/sessions/' + id + '/keepalive').then(poll, e => status(e.message)),
  close: id => closeSession(id, false),
  kill: id => closeSession(id, true),
});

function status(text) {
  $('status').textContent = text;
}

function facts(node, pairs) {
  node.replaceChildren(...pairs.map(([name, value]) => {
    const item = el('span', null, 'fact');
    item.append(el('b', name + ' '), String(value));
    return item;
  }));
}

// CPU % since the last poll, per session and for all: once per poll, so
// that showing the same poll again (a new filter) keeps its figures.
function sample(fleet) {
  const now = Date.parse(fleet.usage.time);
  fleet.cpu = new Map(fleet.sessions.map(s => [s.id, rates.rate(s.id, s.stats && s.stats.cpu_usage_usec, now)]));
  fleet.allCpu = rates.rate('all', fleet.usage.all_sessions.cpu_usage_usec, now);
  rates.forget(new Set([...fleet.sessions.map(s => s.id), 'all']));
  chart.add(fleet.usage.all_sessions.memory_current, fleet.allCpu);
  return fleet;
}

function showFleet({ usage, sessions, closed, health, cpu: cpuOf, allCpu: cpu }) {
  const now = Date.parse(usage.time);
  const rows = sessions.filter(s => matchesFilter(s, $('filter').value)).map(s =>
    sessionRow(s, now, cpuOf.get(s.id)));
  table.show(rows);
  $('count').textContent = '(' + rows.length + (rows.length === sessions.length ? '' : ' of ' + sessions.length) + ')';
  showClosed($('closed'), closed);
  const all = usage.all_sessions, admission = usage.admission;
  facts($('health'), [['status', health.status + (health.reason ? ' (' + health.reason + ')' : '')],
                      ['backend', health.backend], ['network', health.session_network]]);
  facts($('usage'), [['open', usage.open_sessions + (admission.max_sessions ? ' of ' + admission.max_sessions : '')],
                     ['queued', admission.queued],
                     ['memory budget', admission.memory_budget ? bytes(admission.memory_budget_used) + ' of ' +
                       bytes(admission.memory_budget) : 'none'],
                     ['memory', bytes(all.memory_current)], ['CPU', percent(cpu)]]);
}

async function poll() {
  clearTimeout(timer);
  const started = performance.now();
  try {
    latest = sample(await readFleet());
    if (live) live.update(latest);
    else showFleet(latest);
    status('updated ' + new Date().toLocaleTimeString());
    $('status').dataset.pollMs = String(Math.round(performance.now() - started));  // read by the tests
  } catch (e) {
    if (!handleRefusal(e)) status('cannot reach corral: ' + e.message);
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return;
  }
  timer = setTimeout(poll, POLL_MS);
}

// A 401: log in (again); a 403: this caller is not served at all.
function handleRefusal(e) {
  if (!(e instanceof ApiError)) return false;
  if (e.status === 401) {
    if (token()) $('login-error').textContent = 'refused: ' + e.message;
    setToken(null);
    only('login');
    return true;
  }
  if (e.status === 403) {
    $('refused-message').textContent = e.message;
    only('refused');
    return true;
  }
  return false;
}

function route() {
  if (live) { live.close(); live = null; }
  const match = location.hash.match(/^#\/session\/([0-9a-f]{12})$/);
  if (match) {
    live = new LiveView(match[1], { confirm: confirmed, onGone: () => { location.hash = '#'; } });
    only('live');
  } else {
    only('fleet');
  }
  poll();
}

$('login-form').addEventListener('submit', event => {
  event.preventDefault();
  $('login-error').textContent = '';
  setToken($('token').value);
  $('token').value = '';
  route();
});
$('logout').addEventListener('click', () => { setToken(null); location.hash = '#'; only('login'); });
$('filter').addEventListener('input', () => latest && !live && showFleet(latest));
window.addEventListener('hashchange', route);
route();
