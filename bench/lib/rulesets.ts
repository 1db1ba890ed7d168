// Deterministic ruleset generators (same bytes on every run and machine: a seeded PRNG, no
// clock). All output is in iptables-save's canonical form so every implementation parses the
// same text.

/** mulberry32: tiny seeded PRNG, good enough to pick realistic-looking values. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TCP_PORTS = [22, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 3306, 5432, 6379, 8080, 8443, 9090];
const UDP_PORTS = [53, 67, 68, 123, 161, 500, 514, 1194, 4500, 51820];
const IFACES = ['eth0', 'eth1', 'ens3', 'bond0', 'veth+', 'wg0'];

/** One rule (without `-A CHAIN`) of a realistic mix: prefixes, tcp/udp ports, -i, multiport, conntrack. */
export function mixedRule(rand: () => number, i: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  // Distinct source prefixes: rule i gets its own /24, /28 or /32 inside 10.0.0.0/8.
  const a = (i >> 16) & 0xff;
  const b = (i >> 8) & 0xff;
  const c = i & 0xff;
  const kind = rand();
  const verdict = rand() < 0.7 ? 'ACCEPT' : 'DROP';
  if (kind < 0.3) return `-s 10.${a}.${b}.${c}/32 -p tcp -m tcp --dport ${pick(TCP_PORTS)} -j ${verdict}`;
  if (kind < 0.5) return `-s 10.${a}.${b}.0/24 -p udp -m udp --dport ${pick(UDP_PORTS)} -j ${verdict}`;
  if (kind < 0.65) return `-s 10.${a}.${b}.${c & 0xf0}/28 -i ${pick(IFACES)} -p tcp -m tcp --dport ${pick(TCP_PORTS)} -j ${verdict}`;
  if (kind < 0.8) {
    const ports = [...new Set([pick(TCP_PORTS), pick(TCP_PORTS), pick(TCP_PORTS)])].sort((x, y) => x - y).join(',');
    return `-s 10.${a}.${b}.${c}/32 -p tcp -m multiport --dports ${ports} -j ${verdict}`;
  }
  if (kind < 0.9) return `-s 10.${a}.${b}.${c}/32 -m conntrack --ctstate NEW -j ${verdict}`;
  return `-s 10.${a}.${b}.${c}/32 -i ${pick(IFACES)} -p udp -m udp --dport ${1024 + Math.floor(rand() * 60000)} -j ${verdict}`;
}

export function mixedRules(n: number, seed = 42): string[] {
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(mixedRule(rand, i));
  return out;
}

/** A filter-table restore file with `n` mixed rules in `chain`. */
export function mixedRestore(n: number, chain = 'INPUT'): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (const r of mixedRules(n)) lines.push(`-A ${chain} ${r}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Source address of the i-th non-matching throughput rule: 172.16.0.0/12, never the sender. */
function decoySource(i: number): string {
  const v = (172 << 24) + (16 << 16) + 1 + i;
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

export interface MatchSpec {
  chain: 'INPUT' | 'FORWARD';
  srcIp: string;
  dstPort: number;
}

/**
 * Throughput ruleset: `n` rules, the first n-1 `-s <distinct /32> -p udp --dport <port> -j DROP`
 * that the bench's packets never match, the last one matching them with ACCEPT. n = 0 is an
 * empty (but loaded) table.
 */
export function throughputRestore(n: number, m: MatchSpec): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (let i = 0; i < n - 1; i++) lines.push(`-A ${m.chain} -s ${decoySource(i)}/32 -p udp -m udp --dport ${1024 + (i % 60000)} -j DROP`);
  if (n > 0) lines.push(`-A ${m.chain} -s ${m.srcIp}/32 -p udp -m udp --dport ${m.dstPort} -j ACCEPT`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/**
 * Five constrained fields per rule (-s -d -p --sport --dport), every decoy with its own values
 * in each, and only the last rule matching the bench packet (srcIp:40000 → dstIp:dstPort).
 */
export function fiveFieldRestore(n: number, m: MatchSpec & { dstIp: string; srcPort: number }): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (let i = 0; i < n - 1; i++) {
    const d = (10 << 24) + (205 << 16) + 1 + i;
    const dst = `${(d >>> 24) & 0xff}.${(d >>> 16) & 0xff}.${(d >>> 8) & 0xff}.${d & 0xff}`;
    lines.push(`-A ${m.chain} -s ${decoySource(i)}/32 -d ${dst}/32 -p ${i % 2 ? 'tcp' : 'udp'} -m ${i % 2 ? 'tcp' : 'udp'} --sport ${1024 + ((i * 7) % 60000)} --dport ${1024 + (i % 60000)} -j DROP`);
  }
  if (n > 0) lines.push(`-A ${m.chain} -s ${m.srcIp}/32 -d ${m.dstIp}/32 -p udp -m udp --sport ${m.srcPort} --dport ${m.dstPort} -j ACCEPT`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The same policy for nftables, with the n-1 decoys in one concatenated set (reference only). */
export function throughputNft(n: number, m: MatchSpec): string {
  const hook = m.chain === 'INPUT' ? 'input' : 'forward';
  const out = ['table ip bpftbench {', '  set decoys {', '    type ipv4_addr . inet_service'];
  if (n > 1) {
    out.push('    elements = {');
    const el: string[] = [];
    for (let i = 0; i < n - 1; i++) el.push(`      ${decoySource(i)} . ${1024 + (i % 60000)}`);
    out.push(el.join(',\n'));
    out.push('    }');
  }
  out.push('  }', `  chain ${hook} {`, `    type filter hook ${hook} priority filter; policy accept;`);
  if (n > 1) out.push('    ip saddr . udp dport @decoys drop');
  if (n > 0) out.push(`    ip saddr ${m.srcIp} udp dport ${m.dstPort} accept`);
  out.push('  }', '}', '');
  return out.join('\n');
}
