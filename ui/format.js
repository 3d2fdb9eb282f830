// How numbers read in the console's tables.
export function bytes(value) {
  if (value === null || value === undefined || value === 'max') return value === 'max' ? 'max' : '–';
  const n = Number(value);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

export function seconds(value) {
  if (value === null || value === undefined || !isFinite(value)) return '–';
  const s = Math.max(0, Math.round(value));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
}

export function percent(value) {
  return value === null || value === undefined ? '–' : value.toFixed(1) + '%';
}

export function labels(object) {
  return Object.entries(object || {}).map(([k, v]) => k + '=' + v).join(' ');
}

// An element with text (never HTML: labels and URLs come from clients).
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}
