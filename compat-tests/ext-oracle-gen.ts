// Regenerates extensions/testdata/oracle.jsonl: runs every case of extensions/testdata/cases.txt
// against real iptables-nft 1.8.9 in a scratch namespace and records exit code, stderr, the
// -S line and the -L / -L -n extension text. The extension unit tests replay this file, so the
// modules are checked against iptables without root. Run as root:
//   npx tsx compat-tests/ext-oracle-gen.ts
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Scratch } from './lib/netns.ts';

export interface OracleCase {
  table: string;
  chain: string;
  rule: string;
}

export function readCases(file: string): OracleCase[] {
  const out: OracleCase[] = [];
  let table = 'filter';
  let chain = 'INPUT';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chain = line.slice(1);
    else out.push({ table, chain, rule: line });
  }
  return out;
}

/** Extension text of an -L line: everything after the destination column (20 wide + 1). */
export function listExtras(line: string): string {
  const m = /^\S*\s+\S+\s+\S+\s+\S+\s+/.exec(line);
  if (!m) return '';
  return line.slice(m[0].length + 21);
}

function main(): void {
  const casesFile = join(ROOT, 'extensions', 'testdata', 'cases.txt');
  const cases = readCases(casesFile);
  const ns = Scratch.create('ext');
  try {
    const script: string[] = [];
    cases.forEach((c, i) => {
      script.push(`echo "@@CASE ${i}"`);
      script.push(`iptables-nft -w -t ${c.table} -A ${c.chain} ${c.rule} 2>/tmp/bpft-ext-err.$$; echo "@@RC $?"; cat /tmp/bpft-ext-err.$$ | sed 's/^/@@ERR /'`);
      script.push(`echo "@@S"; iptables-nft -t ${c.table} -S ${c.chain} | grep -- '^-A'`);
      script.push(`echo "@@L"; iptables-nft -t ${c.table} -L ${c.chain} | tail -n +3`);
      script.push(`echo "@@LN"; iptables-nft -t ${c.table} -L ${c.chain} -n | tail -n +3`);
      script.push(`iptables-nft -t ${c.table} -F ${c.chain}`);
    });
    script.push('rm -f /tmp/bpft-ext-err.$$');
    const r = spawnSync('ip', ['netns', 'exec', ns.name, 'bash', '-s'], { input: script.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
    const records: string[] = [];
    const blocks = r.stdout.split(/^@@CASE \d+\n/m).slice(1);
    blocks.forEach((b, i) => {
      const c = cases[i]!;
      const lines = b.split('\n');
      const rc = Number(/^@@RC (\d+)/m.exec(b)![1]);
      const err = lines.filter((l) => l.startsWith('@@ERR ') || l === '@@ERR').map((l) => l.slice(6)).join('\n');
      const sec = (name: string, next: string) => {
        const s = b.indexOf(`@@${name}\n`);
        const e = next ? b.indexOf(`@@${next}\n`) : b.length;
        return b.slice(s + name.length + 3, e).split('\n').filter((l) => l !== '');
      };
      const S = sec('S', 'L')[0] ?? '';
      const L = sec('L', 'LN')[0];
      const LN = sec('LN', '')[0];
      records.push(JSON.stringify({ ...c, rc, err, S: rc === 0 ? S : undefined, L: rc === 0 && L !== undefined ? listExtras(L) : undefined, LN: rc === 0 && LN !== undefined ? listExtras(LN) : undefined }));
    });
    writeFileSync(join(ROOT, 'extensions', 'testdata', 'oracle.jsonl'), records.join('\n') + '\n');
    console.log(`${records.length} cases recorded`);
  } finally {
    ns.destroy();
  }
}

if (process.argv[1] && /ext-oracle-gen/.test(process.argv[1])) main();
