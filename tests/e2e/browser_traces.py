"""What a session can leave in its browser for the next bot to find, set
from a page and looked for over CDP (issue 23, "Fresh, guaranteed"): a
cookie, localStorage, an IndexedDB database, a history entry and an HTTP
cache entry. The pages come from a server on "the internet" (a public test
host, reachable from a session's own network namespace and from the host's),
which counts the requests for its cacheable page: a cache hit never
reaches it."""
import http.server
import threading

from public_host import PublicHost, http_server_on, listening_socket_in

PAGE = "<html><head><title>{path}</title></head><body>traces</body></html>"  # titled apart: see READ_HISTORY
CACHED = "/cached"  # answered with Cache-Control: max-age, so a browser keeps it
VISITED = "/visited"  # a navigation there is a history entry

SET_STORAGE = """new Promise((done, failed) => {
  document.cookie = 'seen=1; max-age=3600';
  localStorage.setItem('seen', '1');
  const opened = indexedDB.open('seen', 1);
  opened.onupgradeneeded = () => opened.result.createObjectStore('kept');
  opened.onerror = () => failed(opened.error);
  opened.onsuccess = () => {
    const write = opened.result.transaction('kept', 'readwrite');
    write.objectStore('kept').put('1', 'seen');
    write.oncomplete = () => { opened.result.close(); done(true); };
    write.onerror = () => failed(write.error);
  };
})"""

READ_STORAGE = """indexedDB.databases().then(databases => ({
  cookie: document.cookie, local_storage: localStorage.getItem('seen'),
  indexed_db: databases.map(database => database.name)}))"""

FETCH_CACHED = f"fetch('{CACHED}').then(answer => answer.text())"

# chrome://history asks the browser's history service, which holds a visit
# at once (its database on disk is written only now and then). Its app's
# query result is read once the query is over; a page that changed its
# insides makes this throw, never pass. It shows one entry for visits of a
# day with one title, the others' URLs only in its allTimestamps: all read.
READ_HISTORY = """(async () => {
  for (let tries = 0; tries < 200; tries++) {
    const app = document.querySelector('history-app');
    const result = app && app.queryResult_;
    if (result && result.info && !app.queryState_.querying)
      return result.value.flatMap(visit => [visit.url, ...Object.keys(visit.allTimestamps || {})]);
    await new Promise(later => setTimeout(later, 50));
  }
  throw new Error('chrome://history answered no query');
})()"""


class TracesServer:
    """The pages, on a public test host; counts the fetches of CACHED."""

    def __init__(self):
        self.host = PublicHost().__enter__()
        self.cached_fetches = 0
        counted = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                cached = self.path == CACHED
                if cached:
                    with counted:
                        server.cached_fetches += 1
                body = (f"cached {server.cached_fetches}" if cached else PAGE.format(path=self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain" if cached else "text/html")
                self.send_header("Cache-Control", "max-age=3600" if cached else "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http_server_on(listening_socket_in(self.host.name, self.host.client_address), Handler)
        self.url = f"http://{self.host.client_address}:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.host.__exit__(None, None, None)


def navigate(client, page, url):
    client.call("Page.enable", {}, page)
    navigation = client.call("Page.navigate", {"url": url}, page)
    assert "errorText" not in navigation, f"{url}: {navigation}"
    client.wait_event("Page.loadEventFired", page)


def leave_traces(client, server):
    """From a new page: all five traces, each seen by the browser that holds it."""
    page = client.open_page()
    navigate(client, page, server.url + VISITED)
    client.evaluate(page, SET_STORAGE)
    client.evaluate(page, FETCH_CACHED)
    return page


def traces_seen(client, server):
    """What a new page of this browser finds of leave_traces(): the storage
    of the server's origin, whether the history holds the visit (and all
    it holds), and whether a fetch of the cacheable page was answered from
    the cache (the server saw no request)."""
    page = client.open_page()
    navigate(client, page, server.url + "/")
    seen = client.evaluate(page, READ_STORAGE)
    fetches = server.cached_fetches
    client.evaluate(page, FETCH_CACHED)
    seen["cache_hit"] = server.cached_fetches == fetches
    history = client.open_page()
    navigate(client, history, "chrome://history")
    seen["history"] = client.evaluate(history, READ_HISTORY)
    seen["visited"] = server.url + VISITED in seen["history"]
    return seen
