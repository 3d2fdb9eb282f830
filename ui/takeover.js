// Taking over a tab: the operator's mouse, wheel and keyboard on the
// screencast canvas, sent to the tab with CDP Input.*, and the session
// marked in the API (controlled_by_console) while it lasts, so that a bot
// can wait for a human to finish a step. The mark lapses unless renewed,
// so a console that vanishes does not leave it set.
import { call } from './api.js';

const RENEW_MS = 10000;
const BUTTONS = ['left', 'middle', 'right'];

function modifiers(e) {
  return (e.altKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.metaKey ? 4 : 0) | (e.shiftKey ? 8 : 0);
}

export class TakeOver {
  constructor(sessionId, screencast) {
    this.sessionId = sessionId;
    this.screencast = screencast;
    this.canvas = screencast.canvas;
    this.handlers = {
      mousedown: e => this.mouse('mousePressed', e), mouseup: e => this.mouse('mouseReleased', e),
      mousemove: e => this.mouse('mouseMoved', e), wheel: e => this.wheel(e),
      keydown: e => this.key('keyDown', e), keyup: e => this.key('keyUp', e),
      contextmenu: e => e.preventDefault(),
    };
  }

  async start() {
    await call('POST', '/v1/sessions/' + this.sessionId + '/control');
    this.renewal = setInterval(() => call('POST', '/v1/sessions/' + this.sessionId + '/control').catch(() => {}),
                               RENEW_MS);
    for (const [name, handler] of Object.entries(this.handlers)) this.canvas.addEventListener(name, handler);
    this.canvas.classList.add('in-control');
    this.canvas.focus();
  }

  stop() {
    clearInterval(this.renewal);
    for (const [name, handler] of Object.entries(this.handlers)) this.canvas.removeEventListener(name, handler);
    this.canvas.classList.remove('in-control');
    // keepalive: sent even when the page is being closed.
    return call('DELETE', '/v1/sessions/' + this.sessionId + '/control', { keepalive: true }).catch(() => {});
  }

  input(method, params) {
    const cast = this.screencast;
    return cast.cdp.send(method, params, cast.sessionId).catch(() => {});
  }

  mouse(type, e) {
    e.preventDefault();
    if (type === 'mousePressed') this.canvas.focus();
    const { x, y } = this.screencast.pagePoint(e);
    const button = type === 'mouseMoved' && e.buttons === 0 ? 'none' : BUTTONS[e.button] || 'left';
    this.input('Input.dispatchMouseEvent', { type, x, y, button, buttons: e.buttons, clickCount: 1,
                                             modifiers: modifiers(e) });
  }

  wheel(e) {
    e.preventDefault();
    const { x, y } = this.screencast.pagePoint(e);
    this.input('Input.dispatchMouseEvent', { type: 'mouseWheel', x, y, deltaX: e.deltaX, deltaY: e.deltaY,
                                             modifiers: modifiers(e) });
  }

  key(type, e) {
    e.preventDefault();
    // A key that types (Enter too, as '\r') goes as keyDown with its text;
    // others (Backspace, arrows, Tab) as rawKeyDown, which edits without typing.
    const text = e.key.length === 1 ? e.key : e.key === 'Enter' ? '\r' : null;
    const typing = type === 'keyDown' && text !== null && !e.ctrlKey && !e.metaKey;
    const params = { type: typing ? 'keyDown' : type === 'keyDown' ? 'rawKeyDown' : 'keyUp',
                     key: e.key, code: e.code, modifiers: modifiers(e),
                     windowsVirtualKeyCode: e.keyCode, nativeVirtualKeyCode: e.keyCode };
    if (typing) params.text = text;
    this.input('Input.dispatchKeyEvent', params);
  }
}
