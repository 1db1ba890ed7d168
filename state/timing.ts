// Phase timing for profiling a command: BPFTABLES_TIMING=1 prints `phase ms` lines to stderr at
// exit. Costs one env lookup per mark otherwise.
const on = typeof process !== 'undefined' && process.env.BPFTABLES_TIMING === '1';
const t0 = on ? performance.now() : 0;
let last = t0;
const marks: string[] = [];

/** Records the time since the previous mark under `label`. */
export function mark(label: string): void {
  if (!on) return;
  const now = performance.now();
  marks.push(`${label.padEnd(24)} ${(now - last).toFixed(1)} ms`);
  last = now;
}

export function report(): string {
  if (!on) return '';
  return `timing: process start → main ${t0.toFixed(1)} ms\n${marks.map((m) => `timing: ${m}\n`).join('')}timing: total ${(performance.now() - t0).toFixed(1)} ms\n`;
}
