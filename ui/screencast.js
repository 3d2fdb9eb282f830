// One tab's screencast on a canvas: CDP Page.startScreencast on the
// console's own connection. Bounded by default: JPEG at quality 60, at
// most 1280x800, and each frame acknowledged no sooner than 200 ms after
// the one before, so the browser (which sends no frame while two are
// unacknowledged) sends at most about 5-10 frames a second, and none
// while nothing on the page changes.
export const SCREENCAST = { format: 'jpeg', quality: 60, maxWidth: 1280, maxHeight: 800, everyNthFrame: 1 };
export const MIN_ACK_INTERVAL_MS = 400;

function decode(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type: 'image/jpeg' });
}

export class Screencast {
  constructor(cdp, sessionId, canvas) {
    this.cdp = cdp;
    this.sessionId = sessionId;
    this.canvas = canvas;
    this.metadata = null;
    this.frames = 0;
    this.stopped = false;
    this.lastAck = 0;
    this.onFrame = (params, sid) => { if (sid === this.sessionId && !this.stopped) this.frame(params); };
    cdp.on('Page.screencastFrame', this.onFrame);
  }

  start() {
    return this.cdp.send('Page.startScreencast', SCREENCAST, this.sessionId);
  }

  async frame({ data, metadata, sessionId: frameId }) {
    this.metadata = metadata;
    try {
      const bitmap = await createImageBitmap(decode(data));
      if (this.stopped) return bitmap.close();
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      this.canvas.getContext('2d').drawImage(bitmap, 0, 0);
      bitmap.close();
      this.frames++;
      this.canvas.dataset.frames = String(this.frames);
    } catch (e) { /* a frame that does not decode is skipped, and still acknowledged */ }
    const wait = Math.max(0, this.lastAck + MIN_ACK_INTERVAL_MS - performance.now());
    setTimeout(() => {
      if (this.stopped) return;
      this.lastAck = performance.now();
      this.cdp.send('Page.screencastFrameAck', { sessionId: frameId }, this.sessionId).catch(() => {});
    }, wait);
  }

  // Where a point on the canvas is on the page, in CSS pixels.
  pagePoint(event) {
    const box = this.canvas.getBoundingClientRect();
    const m = this.metadata || { deviceWidth: this.canvas.width, deviceHeight: this.canvas.height };
    return {
      x: Math.round((event.clientX - box.left) / box.width * m.deviceWidth),
      y: Math.round((event.clientY - box.top) / box.height * m.deviceHeight),
    };
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.cdp.send('Page.stopScreencast', {}, this.sessionId).catch(() => {});
  }
}
