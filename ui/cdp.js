// A small Chrome DevTools Protocol client over one WebSocket: commands with
// ids, answered by promise; events to listeners; flat sessions (sessionId)
// for the tabs it attaches to. The console's own connection: the bot's
// stays as it was.
export class Cdp {
  static open(url) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.addEventListener('open', () => resolve(new Cdp(socket)), { once: true });
      socket.addEventListener('error', () => reject(new Error('cannot open the DevTools relay')), { once: true });
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.closed = false;
    socket.addEventListener('message', event => this.receive(JSON.parse(event.data)));
    socket.addEventListener('close', () => {
      this.closed = true;
      for (const { reject } of this.pending.values()) reject(new Error('the DevTools connection closed'));
      this.pending.clear();
      this.emit('closed', {});
    });
  }

  send(method, params = {}, sessionId = undefined) {
    if (this.closed) return Promise.reject(new Error('the DevTools connection is closed'));
    const id = this.nextId++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    this.socket.send(JSON.stringify(message));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  on(method, listener) {
    if (!this.listeners.has(method)) this.listeners.set(method, []);
    this.listeners.get(method).push(listener);
  }

  emit(method, params, sessionId) {
    for (const listener of this.listeners.get(method) || []) listener(params, sessionId);
  }

  receive(message) {
    if (message.id === undefined) return this.emit(message.method, message.params, message.sessionId);
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.error) waiting.reject(new Error(waiting.method + ': ' + message.error.message));
    else waiting.resolve(message.result);
  }

  close() {
    this.closed = true;
    this.socket.close();
  }
}
