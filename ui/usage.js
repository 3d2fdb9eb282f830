// CPU % from cpu_usage_usec counters read at two times: the share of one
// core used between them (200% is two cores).
export class CpuRates {
  constructor() {
    this.last = new Map();  // key -> { usec, at }
  }

  rate(key, usec, atMs) {
    if (usec === null || usec === undefined) return null;
    const before = this.last.get(key);
    this.last.set(key, { usec, at: atMs });
    if (!before || atMs <= before.at || usec < before.usec) return null;
    return (usec - before.usec) / ((atMs - before.at) * 1000) * 100;
  }

  forget(keepKeys) {
    for (const key of this.last.keys()) if (!keepKeys.has(key)) this.last.delete(key);
  }
}
