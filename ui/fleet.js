// The list view: every open session, live, sortable and filterable by
// label; the last closed sessions with their cleanup reports. Rows are
// kept per session id and updated in place, so a button is never
// replaced under the pointer between two polls.
import { call } from './api.js';
import { bytes, seconds, percent, labels, el } from './format.js';

const COLUMNS = ['id', 'state', 'kind', 'labels', 'memory', 'peak', 'max', 'cpu', 'pids', 'age', 'expires',
                 'bytes_in', 'bytes_out'];

// One session as the table shows it, with the values it sorts by.
export function sessionRow(s, nowMs, cpu) {
  const stats = s.stats || {};
  const egress = s.network && s.network.egress;
  return {
    id: s.id, state: s.state, kind: s.kind, labels: labels(s.labels),
    memory: stats.memory_current ?? null, peak: stats.memory_peak ?? null,
    max: s.limits ? s.limits.memory_max : null, cpu, pids: stats.pids ?? null,
    age: (nowMs - Date.parse(s.created_at)) / 1000,
    expires: (Math.min(Date.parse(s.expires_at), Date.parse(s.idle_expires_at)) - nowMs) / 1000,
    bytes_in: egress ? egress.bytes_in : null, bytes_out: egress ? egress.bytes_out : null,
    controlled: !!s.controlled_by_console, raw: s,
  };
}

function shown(row, column) {
  switch (column) {
    case 'memory': case 'peak': case 'max': case 'bytes_in': case 'bytes_out': return bytes(row[column]);
    case 'cpu': return percent(row.cpu);
    case 'age': case 'expires': return seconds(row[column]);
    case 'pids': return row.pids ?? '–';
    default: return row[column];
  }
}

// "key=value" matches that label exactly; other text, any label's text.
export function matchesFilter(session, filter) {
  const wanted = filter.trim();
  if (!wanted) return true;
  const all = Object.entries(session.labels || {});
  const eq = wanted.indexOf('=');
  if (eq > 0) return all.some(([k, v]) => k === wanted.slice(0, eq) && v === wanted.slice(eq + 1));
  return all.some(([k, v]) => (k + '=' + v).includes(wanted));
}

export class FleetTable {
  constructor(table, actions) {
    this.body = table.tBodies[0];
    this.rows = new Map();  // id -> { tr, cells }
    this.actions = actions;
    this.sortKey = 'age';
    this.ascending = true;
    for (const th of table.tHead.querySelectorAll('th[data-sort]'))
      th.addEventListener('click', () => this.sortBy(th.dataset.sort));
  }

  sortBy(key) {
    this.ascending = this.sortKey === key ? !this.ascending : true;
    this.sortKey = key;
    if (this.last) this.show(this.last);
  }

  show(rows) {
    this.last = rows;
    const key = this.sortKey, sign = this.ascending ? 1 : -1;
    const sorted = [...rows].sort((a, b) => sign * compare(a[key], b[key]));
    const keep = new Set(sorted.map(r => r.id));
    for (const [id, row] of this.rows) if (!keep.has(id)) { row.tr.remove(); this.rows.delete(id); }
    sorted.forEach((r, i) => {
      const row = this.rows.get(r.id) || this.makeRow(r.id);
      COLUMNS.forEach((c, j) => { if (j > 0) row.cells[j].textContent = shown(r, c); });
      row.tr.classList.toggle('controlled', r.controlled);
      row.tr.dataset.state = r.state;
      if (this.body.children[i] !== row.tr) this.body.insertBefore(row.tr, this.body.children[i] || null);
    });
  }

  makeRow(id) {
    const tr = el('tr');
    tr.dataset.id = id;
    const cells = COLUMNS.map(() => tr.appendChild(el('td')));
    const link = el('a', id);
    link.href = '#/session/' + id;
    cells[0].appendChild(link);
    const actions = tr.appendChild(el('td', null, 'actions'));
    for (const [name, label] of [['view', 'View'], ['keepalive', 'Keep alive'], ['close', 'Close'],
                                 ['kill', 'Close now']]) {
      const button = actions.appendChild(el('button', label));
      button.type = 'button';
      button.dataset.action = name;
      button.addEventListener('click', () => this.actions[name](id));
    }
    const row = { tr, cells };
    this.rows.set(id, row);
    return row;
  }
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return a < b ? -1 : 1;
}

// The closed sessions, newest first, with what their cleanup found.
export function showClosed(table, sessions) {
  const body = table.tBodies[0];
  body.replaceChildren(...sessions.slice().reverse().map(s => {
    const r = s.report || {};
    const tr = el('tr');
    tr.dataset.id = s.id;
    const phases = Object.entries(r.phases_ms || {}).map(([k, v]) => k + ' ' + v).join(', ');
    for (const text of [s.id, s.kind, labels(s.labels), r.reason, r.graceful, r.verified_empty,
                        r.processes_killed, r.duration_ms === undefined ? '–' : r.duration_ms + ' ms', phases,
                        (r.problems || []).join('; ') || '–'])
      tr.appendChild(el('td', text));
    if (r.verified_empty === false) tr.classList.add('bad');
    return tr;
  }));
}

export async function readFleet() {
  const [usage, list, closed, health] = await Promise.all([
    call('GET', '/v1/usage'), call('GET', '/v1/sessions'), call('GET', '/v1/sessions?state=closed'),
    call('GET', '/v1/health')]);
  return { usage, sessions: list.sessions, closed: closed.sessions, health };
}
