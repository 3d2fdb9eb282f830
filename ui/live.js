// One session's live view: its tabs and their URLs, a screencast of the
// tab the bot is on, and Take over. The console opens a DevTools
// connection of its own through corral's relay for the session (a chrome
// session's devtools.ws; a WebDriver session's se/cdp), so the bot's
// connection is never touched; closing the view stops the screencast and
// closes that connection.
import { Cdp } from './cdp.js';
import { Screencast } from './screencast.js';
import { TakeOver } from './takeover.js';
import { bytes, labels, el } from './format.js';

const $ = id => document.getElementById(id);

// The browser-level DevTools URL on corral's address, or null while there
// is none (a WebDriver session before its client opened it).
export function relayUrl(session) {
  if (session.kind === 'chrome') return session.devtools && session.devtools.ws;
  if (!session.webdriver) return null;
  const url = new URL(session.webdriver);
  const match = url.pathname.match(/^(.*)\/webdriver\/([0-9a-f]{12})\/([0-9a-f]+)$/);
  if (!match) return null;
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = match[1] + '/session/' + match[2] + '/' + match[3] + '/se/cdp';
  return url.href;
}

// The tab to show unless the operator picked one: the newest page whose
// URL is not blank (the one a bot opened and drives), else any page.
function defaultTab(pages) {
  const real = pages.filter(p => p.url && p.url !== 'about:blank');
  return (real.length ? real[real.length - 1] : pages[pages.length - 1]) || null;
}

export class LiveView {
  constructor(id, { confirm, onGone }) {
    this.id = id;
    this.confirm = confirm;
    this.onGone = onGone;
    this.targets = new Map();  // targetId -> info, in the order seen
    this.pinned = null;
    $('live-id').textContent = id;
    $('screen').dataset.frames = '0';
    $('take-over').onclick = () => this.takeOver();
    $('release').onclick = () => this.release();
    this.onHidden = () => document.hidden ? this.pause() : this.resume();
    document.addEventListener('visibilitychange', this.onHidden);
    this.say('connecting…');
  }

  say(text) { $('live-status').textContent = text; }

  update({ sessions }) {
    const s = sessions.find(x => x.id === this.id);
    if (!s) { this.say('this session is closed'); this.close(); return; }
    $('live-mark').hidden = !s.controlled_by_console;
    const stats = s.stats || {};
    $('live-facts').replaceChildren(...[['state', s.state], ['kind', s.kind], ['labels', labels(s.labels) || '–'],
      ['memory', bytes(stats.memory_current)], ['processes', stats.pids ?? '–']].map(([k, v]) => {
      const item = el('span', null, 'fact');
      item.append(el('b', k + ' '), String(v));
      return item;
    }));
    if (!this.cdp && !this.connecting && !this.closed) this.connect(s);
  }

  async connect(session) {
    const url = relayUrl(session);
    if (!url) return this.say('no DevTools for this session yet');
    this.connecting = true;
    try {
      this.cdp = await Cdp.open(url);
      if (this.closed) return this.cdp.close();
      this.cdp.on('Target.targetCreated', ({ targetInfo }) => this.target(targetInfo));
      this.cdp.on('Target.targetInfoChanged', ({ targetInfo }) => this.target(targetInfo));
      this.cdp.on('Target.targetDestroyed', ({ targetId }) => { this.targets.delete(targetId); this.follow(); });
      this.cdp.on('closed', () => this.lost());
      await this.cdp.send('Target.setDiscoverTargets', { discover: true });
      this.say('watching');
    } catch (e) {
      this.say(e.message);
      this.cdp = null;
    } finally {
      this.connecting = false;
    }
  }

  // The relay closed under the view (the browser restarted, corrald went
  // away): let go of control, and connect again on the next poll.
  lost() {
    if (this.closed) return;
    this.release();
    if (this.cast) this.cast.stopped = true;
    this.cdp = this.cast = this.attached = this.watched = null;
    this.targets.clear();
    this.say('the DevTools connection closed; connecting again');
  }

  target(info) {
    if (info.type !== 'page') return;
    this.targets.set(info.targetId, info);
    this.follow();
  }

  showTabs(current) {
    $('tabs').replaceChildren(...[...this.targets.values()].map(t => {
      const text = !t.title || t.title === t.url ? t.url : t.title + ' — ' + t.url;
      const tab = el('button', text, t.targetId === current ? 'tab current' : 'tab');
      tab.title = t.url;
      tab.type = 'button';
      tab.dataset.url = t.url;
      tab.onclick = () => { this.pinned = t.targetId; this.follow(); };
      return tab;
    }));
  }

  // Watch the pinned tab, or the default one; attach anew when it changes.
  follow() {
    const pages = [...this.targets.values()];
    const chosen = (this.pinned && this.targets.get(this.pinned)) || defaultTab(pages);
    this.showTabs(chosen && chosen.targetId);
    if (!chosen || (this.watched === chosen.targetId) || document.hidden) return;
    this.watch(chosen.targetId);
  }

  async watch(targetId) {
    this.stopWatching();
    this.watched = targetId;
    try {
      const { sessionId } = await this.cdp.send('Target.attachToTarget', { targetId, flatten: true });
      if (this.watched !== targetId || this.closed) return this.cdp.send('Target.detachFromTarget', { sessionId });
      this.attached = sessionId;
      this.cast = new Screencast(this.cdp, sessionId, $('screen'));
      await this.cast.start();
    } catch (e) {
      this.say(e.message);
    }
  }

  stopWatching() {
    if (this.control) this.release();
    if (this.cast) this.cast.stop();
    if (this.attached) this.cdp.send('Target.detachFromTarget', { sessionId: this.attached }).catch(() => {});
    this.cast = null;
    this.attached = null;
    this.watched = null;
  }

  async takeOver() {
    if (!this.cast) return this.say('nothing to take over yet');
    if (!await this.confirm('Take over session ' + this.id + '? Your mouse and keyboard on the picture go to the ' +
                            'bot\'s page, and the session shows as controlled by the console.')) return;
    this.control = new TakeOver(this.id, this.cast);
    try {
      await this.control.start();
    } catch (e) {
      this.control = null;
      return this.say('cannot take over: ' + e.message);
    }
    $('take-over').hidden = true;
    $('release').hidden = false;
    $('live-mark').hidden = false;
    this.say('in control: your input goes to the page');
  }

  release() {
    if (!this.control) return;
    this.control.stop();
    this.control = null;
    $('take-over').hidden = false;
    $('release').hidden = true;
    $('live-mark').hidden = true;
    this.say('watching');
  }

  // Nobody watches a hidden tab: no screencast then.
  pause() { this.stopWatching(); }
  resume() { if (this.cdp && !this.closed) this.follow(); }

  close() {
    if (this.closed) return;
    this.closed = true;
    document.removeEventListener('visibilitychange', this.onHidden);
    this.stopWatching();
    if (this.cdp) setTimeout(() => this.cdp.close(), 100);  // after stopScreencast has gone out
    $('tabs').replaceChildren();
  }
}
