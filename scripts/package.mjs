// Packaged build: one self-contained executable (Bun's `build --compile`, bytecode-precompiled)
// plus the compiled BPF objects, laid out as the tree that scripts/install.sh copies to
// /usr/local/lib/bpftables/:
//
//   dist/pkg/bpftables/bin/bpftables          the executable (JS + koffi's native addon embedded)
//   dist/pkg/bpftables/bin/<name>             symlinks → bpftables; the program dispatches on argv0
//   dist/pkg/bpftables/bpf/*.bpf.o            BPF objects (no compiler needed at run time)
//   dist/pkg/bpftables/manifest.json          what was built from what
//   dist/bpftables-<version>-linux-x64.tar.gz the same tree, for copying to another machine
//
// Why Bun and not Node SEA or plain Node: measured in docs/install.md (no-op start-up).
// Invariants the running program relies on:
//  - the invoked name is `process.argv0` under Bun (argv[1] is a /$bunfs path), so the symlinks
//    dispatch without shell wrappers;
//  - the BPF object is found at $BPFTABLES_BPF_OBJ, which the generated entry sets (unless the
//    user did) to <dirname(process.execPath)>/../bpf/bpftables.bpf.o — import.meta.url is inside
//    the executable's virtual /$bunfs/;
//  - koffi's .node is embedded by Bun and extracted once to $TMPDIR (default /tmp) as
//    .bun-<uid>-<hash>.node on first use; later runs mmap the same file.
//
// Usage: node scripts/package.mjs [--no-build] [--no-bytecode] [--no-tar]
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const dist = join(root, 'dist');
const pkgRoot = join(dist, 'pkg', 'bpftables');

/** Every name the multi-call executable answers to (bin/main.ts dispatches on it). */
export const PROGRAM_NAMES = [
  'iptables', 'iptables-save', 'iptables-restore',
  'bpftables-save', 'bpftables-restore',
  'pcn-iptables', 'pcn-iptables-init', 'pcn-iptables-init-xdp', 'pcn-iptables-clean',
];

function fail(msg) {
  process.stderr.write(`package: ${msg}\n`);
  process.exit(1);
}

/** The bun binary from the `bun` devDependency (its placeholder is replaced by the real one). */
function findBun() {
  const candidates = [
    join(root, 'node_modules', '.bin', 'bun'),
    join(root, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
    join(root, 'node_modules', '@oven', 'bun-linux-x64-baseline', 'bin', 'bun'),
  ];
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  fail('no working bun in node_modules (run `npm ci`; if bun/bin/bun.exe is a placeholder, `npm install-scripts approve bun && npm rebuild bun`)');
}

// 1. BPF objects and the Node bundle (scripts/build.mjs owns both).
if (!args.has('--no-build')) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', env: { ...process.env, BPFTABLES_PACKAGING: '1' } });
const bpfBuild = join(root, 'bpf', 'build');
const objects = existsSync(bpfBuild) ? readdirSync(bpfBuild).filter((n) => n.endsWith('.bpf.o')) : [];
if (objects.length === 0) fail('no bpf/build/*.bpf.o (scripts/build.mjs compiles them; is clang installed?)');

// 2. Entry point. Until bin/main.ts lands, a stand-in that loads what the real one will (koffi
// over libbpf.so.1, chevrotain) so the package, the install and the start-up numbers are real.
// bin/main.ts takes its program name from BPFTABLES_ARGV0 or basename(argv[1]); under Bun argv[1]
// is the /$bunfs/ path of the script and the invoked name is process.argv0, so the generated
// entry puts it in argv[1] before main.ts runs (no environment variable, nothing leaks to
// children).
mkdirSync(dist, { recursive: true });
let entry = join(dist, 'pkg-entry.ts');
let entryKind = 'main';
if (existsSync(join(root, 'bin', 'main.ts'))) {
  writeFileSync(entry, ENTRY_SOURCE());
} else {
  entryKind = 'standin';
  entry = join(dist, 'pkg-standin.ts');
  writeFileSync(entry, STANDIN_SOURCE());
}

// 3. Compile.
const bun = findBun();
rmSync(join(dist, 'pkg'), { recursive: true, force: true });
mkdirSync(join(pkgRoot, 'bin'), { recursive: true });
mkdirSync(join(pkgRoot, 'bpf'), { recursive: true });
const exe = join(pkgRoot, 'bin', 'bpftables');
const compileArgs = ['build', '--compile', '--minify', '--format=esm', '--target=bun-linux-x64', entry, '--outfile', exe];
let bytecode = !args.has('--no-bytecode');
if (bytecode) {
  const r = spawnSync(bun, [...compileArgs.slice(0, 2), '--bytecode', ...compileArgs.slice(2)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('package: --bytecode build failed; building without it (slower start-up)\n');
    bytecode = false;
  }
}
if (!bytecode) {
  const r = spawnSync(bun, compileArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('bun build --compile failed');
}
chmodSync(exe, 0o755);
for (const n of PROGRAM_NAMES) symlinkSync('bpftables', join(pkgRoot, 'bin', n));
for (const o of objects) copyFileSync(join(bpfBuild, o), join(pkgRoot, 'bpf', o));

// 4. Smoke test: the iptables name must answer --version the way clients parse it.
const ver = spawnSync(join(pkgRoot, 'bin', 'iptables'), ['--version'], { encoding: 'utf8' });
if (ver.status !== 0 || !/^iptables v1\.8\.9 \(/.test(ver.stdout)) {
  fail(`packaged iptables --version printed ${JSON.stringify(ver.stdout + ver.stderr)} (exit ${ver.status})`);
}

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || 'unknown';
const bunVersion = spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim();
writeFileSync(join(pkgRoot, 'manifest.json'), JSON.stringify({ version, rev, entry: entryKind, bun: bunVersion, bytecode, objects, names: ['bpftables', ...PROGRAM_NAMES] }, null, 2) + '\n');

// dist/bin (scripts/build.mjs): the multi-call names run this executable, not `node bundle`.
if (existsSync(join(dist, 'bin')) && process.env.BPFTABLES_BUILD_NODE !== '1') {
  for (const n of ['bpftables', ...PROGRAM_NAMES]) {
    const p = join(dist, 'bin', n);
    rmSync(p, { force: true });
    symlinkSync(join('..', 'pkg', 'bpftables', 'bin', n), p);
  }
}

if (!args.has('--no-tar')) {
  const tar = join(dist, `bpftables-${version}-linux-x64.tar.gz`);
  execFileSync('tar', ['-C', join(dist, 'pkg'), '-czf', tar, 'bpftables']);
  process.stdout.write(`package: ${tar}\n`);
}
process.stdout.write(`package: ${pkgRoot} (entry ${entryKind}, bun ${bunVersion}${bytecode ? ', bytecode' : ''}, ${objects.length} BPF object(s))\n`);

// The BPF object sits at <prefix>/bpf/ beside <prefix>/bin/bpftables. bpf/loader looks at
// $BPFTABLES_BPF_OBJ first and otherwise relative to import.meta.url, which inside a Bun
// executable is a virtual /$bunfs/ path; so the entry points the variable at the shipped object
// unless the user set it. (Children inherit it; they can only be bpftables or tools that ignore it.)
function ENTRY_SOURCE() {
  return `// Generated by scripts/package.mjs.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
process.argv[1] = process.argv0;
if (!process.env.BPFTABLES_BPF_OBJ) {
  const obj = join(dirname(process.execPath), '..', 'bpf', 'bpftables.bpf.o');
  if (existsSync(obj)) process.env.BPFTABLES_BPF_OBJ = obj;
}
await import('../bin/entry.ts');
`;
}

function STANDIN_SOURCE() {
  return `// Generated by scripts/package.mjs while bin/main.ts does not exist: loads koffi (libbpf.so.1)
// and chevrotain lazily, as the real entry should, and prints iptables' --version line.
const args = process.argv.slice(2);
if (args[0] === '--version' || args[0] === '-V') {
  process.stdout.write('iptables v1.8.9 (nf_tables)\\n');
} else if (args[0] === '--bpftables-selftest') {
  const { default: koffi } = await import('koffi');
  const { createToken, Lexer } = await import('chevrotain');
  const Word = createToken({ name: 'Word', pattern: /\\S+/ });
  const lexer = new Lexer([Word], { skipValidations: true });
  const lib = koffi.load('libbpf.so.1');
  const ver = lib.func('const char *libbpf_version_string(void)');
  process.stdout.write(JSON.stringify({ libbpf: ver(), tokens: lexer.tokenize('a b c').tokens.length, argv0: process.argv0, execPath: process.execPath }) + '\\n');
} else {
  process.stderr.write('bpftables: stand-in package (bin/main.ts not built yet)\\n');
  process.exit(1);
}
`;
}
