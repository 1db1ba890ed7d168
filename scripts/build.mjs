// Bundles the CLI into one ESM file (chevrotain unbundled costs ~300 ms at start-up) and
// compiles the BPF objects. Multi-call names in dist/bin are symlinks to the Bun-compiled
// executable when it builds (below), else small shell wrappers, because Node resolves symlinks
// of the main script and so loses argv[0].
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(join(dist, 'bin'), { recursive: true });

// BPF objects: every bpf/*.bpf.c → bpf/build/*.bpf.o. vmlinux.h (the running kernel's BTF as C)
// is generated into bpf/build once; -mcpu=v3 for 32-bit jumps and atomics.
const bpfDir = join(root, 'bpf');
const bpfOut = join(bpfDir, 'build');
mkdirSync(bpfOut, { recursive: true });
const vmlinuxH = join(bpfOut, 'vmlinux.h');
if (!existsSync(vmlinuxH)) {
  const h = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 256 * 1024 * 1024 });
  writeFileSync(vmlinuxH + '.tmp', h);
  renameSync(vmlinuxH + '.tmp', vmlinuxH);
}
for (const f of readdirSync(bpfDir).filter((n) => n.endsWith('.bpf.c'))) {
  const out = join(bpfOut, f.replace(/\.c$/, '.o'));
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-mcpu=v3', '-D__TARGET_ARCH_x86', '-I', bpfDir, '-I', bpfOut, '-I', '/usr/include/x86_64-linux-gnu', '-c', join(bpfDir, f), '-o', out + '.tmp'], { stdio: 'inherit' });
  renameSync(out + '.tmp', out);
}

if (existsSync(join(root, 'bin', 'main.ts'))) {
  await build({
    entryPoints: [join(root, 'bin', 'entry.ts')],
    outfile: join(dist, 'bpftables.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['koffi'],
    minify: false,
    sourcemap: false,
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __bpftCreateRequire } from 'node:module'; const require = __bpftCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  chmodSync(join(dist, 'bpftables.mjs'), 0o755);
  const names = ['bpftables', 'bpftables-save', 'bpftables-restore', 'iptables', 'iptables-save', 'iptables-restore', 'pcn-iptables', 'pcn-iptables-init', 'pcn-iptables-init-xdp', 'pcn-iptables-clean'];
  for (const n of names) {
    const p = join(dist, 'bin', n);
    rmSync(p, { force: true });
    writeFileSync(p, `#!/bin/sh\nBPFTABLES_ARGV0=${n} exec node "${join(dist, 'bpftables.mjs')}" "$@"\n`);
    chmodSync(p, 0o755);
  }
  // Clients call iptables hundreds of times and Node takes ~200 ms to start the bundle; the
  // Bun-compiled executable of scripts/package.mjs starts in ~10 ms. When it builds (bun ships
  // in node_modules), dist/bin/<name> become symlinks to dist/pkg/bpftables/bin/<name> (the
  // executable dispatches on argv[0] and finds its BPF objects beside it); otherwise, or with
  // BPFTABLES_BUILD_NODE=1, they stay the Node wrappers above. package.mjs makes the links
  // (also when run on its own, after it ran this script with BPFTABLES_PACKAGING=1).
  if (process.env.BPFTABLES_BUILD_NODE !== '1' && process.env.BPFTABLES_PACKAGING !== '1') {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--no-build', '--no-tar'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(`build: no Bun-compiled executable (dist/bin runs the bundle with node):\n${(r.stderr ?? '').split('\n').slice(-5).join('\n')}\n`);
    }
  }
}
