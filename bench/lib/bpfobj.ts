// Compiles the bench's own BPF programs (bench/bpf/*.bpf.c → bench/build/*.bpf.o) when the
// object is missing or older than its source.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, must } from './ns.ts';

export function benchObject(name: string): string {
  const src = join(BENCH_DIR, 'bpf', `${name}.bpf.c`);
  const outDir = join(BENCH_DIR, 'build');
  const out = join(outDir, `${name}.bpf.o`);
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    must(['clang', '-O2', '-g', '-target', 'bpf', '-I', '/usr/include/x86_64-linux-gnu', '-c', src, '-o', out]);
  }
  return out;
}
