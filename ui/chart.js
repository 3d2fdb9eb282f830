// A small chart of all sessions' memory and CPU since the page opened,
// drawn by hand on a canvas: two lines, each scaled to its own maximum.
const KEEP = 300;  // samples: 10 minutes at one a 2 s

export class Chart {
  constructor(canvas) {
    this.canvas = canvas;
    this.samples = [];
  }

  add(memoryBytes, cpuPercent) {
    this.samples.push({ memory: memoryBytes || 0, cpu: cpuPercent || 0 });
    if (this.samples.length > KEEP) this.samples.shift();
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = '#ccc';
    ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
    this.line(ctx, 'memory', '#2a6fdb', 1);
    this.line(ctx, 'cpu', '#d9822b', 100);
    const last = this.samples[this.samples.length - 1];
    if (!last) return;
    ctx.fillStyle = '#333';
    ctx.font = '11px sans-serif';
    ctx.fillText('max ' + Math.round(this.max('memory') / 1048576) + ' MiB, ' +
                 Math.round(this.max('cpu')) + '% CPU', 6, 13);
  }

  max(field) {
    return this.samples.reduce((m, s) => Math.max(m, s[field]), 0);
  }

  // floor: the least top of the scale (100 for CPU %: one core).
  line(ctx, field, colour, floor) {
    const top = Math.max(this.max(field), floor);
    const { width, height } = this.canvas;
    const step = width / Math.max(KEEP - 1, 1);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    this.samples.forEach((s, i) => {
      const x = i * step, y = height - 4 - (s[field] / top) * (height - 20);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}
