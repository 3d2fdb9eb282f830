// The console's one way to corral's API: relative URLs (so that a
// --public-url prefix is kept), the token from sessionStorage in an
// Authorization header (never in a URL or a cookie a foreign site could
// ride), and errors as corral's JSON says them.
const TOKEN_KEY = 'corral-token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The page is at <base>/ui/...; the API at <base>/v1/...
export function apiUrl(path) {
  return new URL('..' + path, document.baseURI.replace(/\/ui\/.*$/, '/ui/')).href;
}

export async function call(method, path, { body, keepalive = false } = {}) {
  const headers = {};
  const bearer = token();
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(apiUrl(path), {
    method, headers, keepalive, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch { /* an empty answer */ }
  if (!res.ok) {
    const error = data && data.error ? data.error : { code: 'http_' + res.status, message: res.statusText };
    const failed = new ApiError(res.status, error.code, error.message);
    failed.body = data;
    throw failed;
  }
  return data;
}
