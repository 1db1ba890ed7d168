// Cases generated from every extension's option table (values per option type: valid values,
// boundaries, invalid values, an inversion, a duplicate, each alias spelling). Shared by
// compat-tests/ext-generated.test.ts; kept apart so tools can list the cases without vitest.
import { MATCHES, TARGETS } from '../extensions/index.ts';
import type { OptionSpec } from '../extensions/types.ts';

export interface Hint {
  table?: string;
  chain?: string;
  /** Rule text before `-m name` / `-j NAME` (e.g. `-p tcp`). */
  prefix?: string;
  /** Options every case needs besides the one under test (e.g. `--mode random`). */
  base?: string;
  /** Values per option: valid first (the first is reused for inversion / duplicate cases). */
  values?: Record<string, string[]>;
}

const PORTS = ['80', '0', '65535', '1:1023', '1024:', ':1023', '4:3', 'ssh', 'http-alt', '65536', '-1', 'nosuch', "''"];

/** Values chosen per option type: boundaries of the type, a named value, and invalid ones. */
export const HINTS: Record<string, Hint> = {
  tcp: { prefix: '-p tcp', values: { sport: PORTS, dport: PORTS, 'tcp-flags': ['SYN,ACK SYN', 'ALL NONE', 'NONE ALL', 'FIN,URG FIN', 'SYN BOGUS'], 'tcp-option': ['1', '255', '0', '256', 'x'] } },
  udp: { prefix: '-p udp', values: { sport: PORTS, dport: PORTS } },
  icmp: { prefix: '-p icmp', values: { 'icmp-type': ['8', 'echo-request', 'any', '3/3', '0/0', '255', '255/255', '256', '3/256', 'port-unr', 'bogus', "''", 'TOS-host-redirect', '11/1'] } },
  multiport: { prefix: '-p tcp', values: { sports: ['80,443', '1:1023,2000', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16', '5:3', '3:3', 'ssh,http', '1,'], dports: ['22', '0:65535'], ports: ['53', 'domain,80'] } },
  iprange: { values: { 'src-range': ['10.0.0.1-10.0.0.9', '1.2.3.4', '0.0.0.0-255.255.255.255', '10.0.0.9-10.0.0.1', '1.2.3', 'foo', '1.2.3.4-foo', '1.2.3.4/24'], 'dst-range': ['192.168.0.0-192.168.255.255'] } },
  conntrack: {
    values: {
      ctstate: ['NEW', 'ESTABLISHED,RELATED', 'INVALID,UNTRACKED', 'SNAT,DNAT', 'new', 'BOGUS', "''", 'NEW,,ESTABLISHED'],
      ctproto: ['tcp', '6', '0', 'all', '255', '256', 'bogus'],
      ctorigsrc: ['1.2.3.4', '10.0.0.0/8', '0.0.0.0/0', '1.2.3.4/32'],
      ctorigdst: ['1.2.3.4'],
      ctreplsrc: ['1.2.3.4'],
      ctrepldst: ['1.2.3.4'],
      ctstatus: ['ASSURED', 'NONE', 'EXPECTED,SEEN_REPLY,CONFIRMED', 'BOGUS'],
      ctexpire: ['5', '10:20', '0:4294967295', '4294967296', '-1', '20:10', 'x'],
      ctorigsrcport: ['80', '1:2', 'ssh', '65535'],
      ctorigdstport: ['80'],
      ctreplsrcport: ['80'],
      ctrepldstport: ['80'],
      ctdir: ['ORIGINAL', 'REPLY', 'BOGUS'],
    },
  },
  state: { values: { state: ['NEW', 'ESTABLISHED,RELATED', 'INVALID,UNTRACKED', 'SNAT', 'BOGUS'] } },
  comment: { values: { comment: ['abc', "'a b'", '\'a"b\'', "''", '"it\'s"', `${'x'.repeat(255)}`, `${'x'.repeat(256)}`] } },
  mac: { values: { 'mac-source': ['00:11:22:33:44:55', 'AA:BB:CC:DD:EE:FF', '0:1:2:3:4:5', '00:11:22:33:44', '00-11-22-33-44-55', 'x'] } },
  limit: { values: { limit: ['3/hour', '1/s', '10/sec', '5/minute', '2/day', '10000/sec', '10001/sec', '0/sec', '3/x', '1.5/sec', '86400/day'], 'limit-burst': ['5', '1', '0', '10000', '10001', 'x'] } },
  length: { values: { length: ['0', '1500', '65535', '10:20', ':20', '20:', '20:10', '65536', 'x'] } },
  ttl: { values: { 'ttl-eq': ['64', '0', '255', '256', 'x'], 'ttl-lt': ['10', '0'], 'ttl-gt': ['10', '255'] } },
  mark: { values: { mark: ['1', '0x10/0xff', '0', '0xffffffff', '4294967296', 'x', '1/'] } },
  addrtype: { values: { 'src-type': ['LOCAL', 'UNICAST,LOCAL', 'local', 'BOGUS', 'LOCAL,,'], 'dst-type': ['MULTICAST', 'BROADCAST,ANYCAST'] }, base: '' },
  pkttype: { values: { 'pkt-type': ['unicast', 'broadcast', 'multicast', 'otherhost', 'host', 'BROADCAST', 'bogus'] } },
  recent: { values: { seconds: ['60', '1', '0', 'x'], hitcount: ['3', '0', '65535', '65536'], name: ['foo', "''", 'a/b'], mask: ['255.255.255.0', 'x'] } },
  statistic: { values: { mode: ['random', 'nth', 'bogus'], probability: ['0.5', '0', '1', '1.5', '0.1'], every: ['3', '1', '0'], packet: ['0', '2'] } },
  set: { values: { 'match-set': ['foo src', 'foo src,dst'] } },
  owner: { chain: 'OUTPUT', values: { 'uid-owner': ['0', 'root', '1000-2000', '5-3', 'nosuchuser', '4294967295'], 'gid-owner': ['0', 'root'] } },
  cpu: { values: { cpu: ['0', '4294967295', '4294967296', 'x'] } },
  dscp: { values: { dscp: ['0x20', '10', '63', '64'], 'dscp-class': ['EF', 'AF41', 'CS7', 'bogus'] } },
  tos: { values: { tos: ['0x10', '0x10/0x3f', 'Minimize-Delay', 'Normal-Service', '256', 'bogus'] } },
  ecn: { prefix: '-p tcp', values: { 'ecn-ip-ect': ['0', '3', '4'] } },
  esp: { prefix: '-p esp', values: { espspi: ['0', '1:2', ':32', '0:4294967295', '4294967296', '-1'] } },
  ah: { prefix: '-p ah', values: { ahspi: ['0', '1:2', '4294967296'] } },
  ipcomp: { prefix: '-p ipcomp', values: { ipcompspi: ['18', '1:2'] } },
  helper: { values: { helper: ['ftp', 'ftp-21', "''"] } },
  quota: { values: { quota: ['0', '1000', '18446744073709551615', '18446744073709551616', 'x'] } },
  realm: { values: { realm: ['0x1', '1', '0x10/0xff', 'bogus'] } },
  tcpmss: { prefix: '-p tcp', values: { mss: ['100', '100:200', '65535', '65536'] } },
  connmark: { values: { mark: ['1', '0x10/0xff', 'x'] } },
  devgroup: { chain: 'FORWARD', values: { 'src-group': ['1', '0x10/0xff'], 'dst-group': ['2'] } },
  cgroup: { values: { cgroup: ['1'], path: ['/'] } },
  connlabel: { values: { label: ['1', '127', '128'] } },
  connlimit: { values: { 'connlimit-upto': ['10', '0', '4294967296'], 'connlimit-above': ['10'], 'connlimit-mask': ['24', '32', '33'] } },
  physdev: { chain: 'FORWARD', values: { 'physdev-in': ['eth0', 'eth+'], 'physdev-out': ['eth1'] } },
  string: { base: '', values: { algo: ['bm', 'kmp', 'bogus'], string: ['foo', "'a b'", "'|'"], 'hex-string': ["'|41 42|'", "'|00|'"], from: ['1'], to: ['100'] } },
  connbytes: { values: { connbytes: ['0:1000', '1000', 'x'], 'connbytes-dir': ['original', 'reply', 'both', 'bogus'], 'connbytes-mode': ['bytes', 'packets', 'avgpkt', 'bogus'] } },
  dccp: { prefix: '-p dccp', values: { sport: ['1', '1:2', '65536'], dport: ['2'], 'dccp-types': ['REQUEST,RESPONSE', 'INVALID', 'BOGUS'], 'dccp-option': ['1', '256'] } },
  hashlimit: { base: '', values: { 'hashlimit-upto': ['1/sec', '1000/sec', '5/min', '0/sec'], 'hashlimit-above': ['10/sec'], 'hashlimit-burst': ['1', '10'], 'hashlimit-mode': ['srcip', 'srcip,dstport', 'bogus'], 'hashlimit-srcmask': ['24', '33'], 'hashlimit-htable-expire': ['2000'] } },
  NFLOG: { values: { 'nflog-group': ['1', '65535', '65536'], 'nflog-prefix': ["'abc def'", "''"], 'nflog-range': ['100'], 'nflog-size': ['100'], 'nflog-threshold': ['2'] } },
  NFQUEUE: { values: { 'queue-num': ['1', '65535', '65536'], 'queue-balance': ['0:3', '3:0'] } },
  CONNMARK: { values: { 'set-mark': ['1', '0x10/0xff'], 'set-xmark': ['0x10/0xff'], 'and-mark': ['1'], 'or-mark': ['1'], 'xor-mark': ['1'], mask: ['0xff'], ctmask: ['0xf'], nfmask: ['0xff'] } },
  AUDIT: { values: { type: ['accept', 'drop', 'reject', 'bogus'] } },
  TOS: { table: 'mangle', chain: 'PREROUTING', values: { 'set-tos': ['0x10', '0x10/0x3f', 'Minimize-Delay', 'bogus'], 'and-tos': ['0x1'], 'or-tos': ['0x1'], 'xor-tos': ['0x1'] } },
  DSCP: { table: 'mangle', chain: 'PREROUTING', values: { 'set-dscp': ['1', '0x3f', '64'], 'set-dscp-class': ['EF', 'bogus'] } },
  CHECKSUM: { table: 'mangle', chain: 'PREROUTING' },
  TTL: { table: 'mangle', chain: 'PREROUTING', values: { 'ttl-set': ['1', '255', '256'], 'ttl-dec': ['1', '0'], 'ttl-inc': ['1'] } },
  ECN: { table: 'mangle', chain: 'PREROUTING', prefix: '-p tcp' },
  CT: { table: 'raw', chain: 'PREROUTING', values: { zone: ['1', '65535', '65536'], 'zone-orig': ['1'], 'zone-reply': ['1'], ctevents: ['new,related', 'bogus'], expevents: ['new'] } },
  NOTRACK: { table: 'raw', chain: 'PREROUTING' },
  TCPMSS: { prefix: '-p tcp', chain: 'FORWARD', values: { 'set-mss': ['1400', '65536'] } },
  CLASSIFY: { table: 'mangle', chain: 'POSTROUTING', values: { 'set-class': ['1:2', '0x10:0xff', 'bogus'] } },
  IDLETIMER: { values: { timeout: ['10'], label: ['foo'] } },
  TEE: { values: { gateway: ['1.2.3.4', 'x'], oif: ['lo'] } },
  NETMAP: { table: 'nat', chain: 'POSTROUTING', values: { to: ['1.2.3.0/24', '1.2.3.4', 'x'] } },
  REJECT: { values: { 'reject-with': ['icmp-port-unreachable', 'tcp-reset', 'icmp-host-prohibited', 'net-unreach', 'icmp-admin-prohibited', 'echo-reply', 'bogus'] } },
  LOG: { values: { 'log-level': ['4', 'debug', 'emerg', '7', '8', 'warn', 'x'], 'log-prefix': ['abc', "'a b '", "''", `${'x'.repeat(30)}`] } },
  MARK: { values: { 'set-mark': ['1', '0x10/0xff', '0', '0xffffffff', '4294967296', 'x'], 'set-xmark': ['5', '5/7'], 'and-mark': ['0xf0', '1/2'], 'or-mark': ['3'], 'xor-mark': ['3'] } },
  DNAT: { table: 'nat', chain: 'PREROUTING', prefix: '-p tcp', values: { 'to-destination': ['1.2.3.4', '1.2.3.4:80', '1.2.3.4-1.2.3.5:80-90', ':80', '1.2.3.4:90-80', '1.2.3.4:a', 'foo'] } },
  SNAT: { table: 'nat', chain: 'POSTROUTING', prefix: '-p tcp', values: { 'to-source': ['1.1.1.1', '1.1.1.1-1.1.1.9:1000-2000', 'foo'] } },
  MASQUERADE: { table: 'nat', chain: 'POSTROUTING', prefix: '-p tcp', values: { 'to-ports': ['1000', '1000-2000', '2000-1000', '80:90', 'a'] } },
  REDIRECT: { table: 'nat', chain: 'PREROUTING', prefix: '-p tcp', values: { 'to-ports': ['8080', '80-90', '90-80', 'a'] } },
};

/** Options that need another one to form a valid rule (so the value is what gets tested). */
const COMPANION: Record<string, string> = {
  'statistic:probability': '--mode random',
  'statistic:every': '--mode nth',
  'statistic:packet': '--mode nth --every 3',
  'recent:seconds': '--rcheck',
  'recent:hitcount': '--rcheck',
  'recent:name': '--set',
  'recent:mask': '--set',
  'recent:reap': '--rcheck --seconds 5',
  'recent:rttl': '--rcheck',
  'recent:rsource': '--set',
  'recent:rdest': '--set',
  'addrtype:limit-iface-in': '--dst-type LOCAL',
  'addrtype:limit-iface-out': '--dst-type LOCAL',
  'owner:suppl-groups': '--gid-owner 0',
  'DNAT:random': '--to-destination 1.2.3.4',
  'DNAT:persistent': '--to-destination 1.2.3.4',
  'SNAT:random': '--to-source 1.1.1.1',
  'SNAT:random-fully': '--to-source 1.1.1.1',
  'SNAT:persistent': '--to-source 1.1.1.1',
  'string:from': '--algo bm --string x',
  'string:to': '--algo bm --string x',
  'string:icase': '--algo bm --string x',
  'string:string': '--algo bm',
  'string:hex-string': '--algo bm',
  'connbytes:connbytes': '--connbytes-dir both --connbytes-mode bytes',
  'connbytes:connbytes-dir': '--connbytes 10 --connbytes-mode bytes',
  'connbytes:connbytes-mode': '--connbytes 10 --connbytes-dir both',
  'connlimit:connlimit-mask': '--connlimit-above 2',
  'connlimit:connlimit-saddr': '--connlimit-above 2',
  'connlimit:connlimit-daddr': '--connlimit-above 2',
  'connlabel:set': '--label 1',
  'CONNMARK:mask': '--save-mark',
  'CONNMARK:ctmask': '--restore-mark',
  'CONNMARK:nfmask': '--restore-mark',
  'NFQUEUE:queue-bypass': '--queue-num 1',
  'NFQUEUE:queue-cpu-fanout': '--queue-balance 0:1',
  'IDLETIMER:timeout': '--label x',
  'IDLETIMER:label': '--timeout 5',
  'TEE:oif': '--gateway 1.2.3.4',
  'ipcomp:compres': '--ipcompspi 1',
  'hashlimit:hashlimit-upto': '--hashlimit-name h',
  'hashlimit:hashlimit-above': '--hashlimit-name h',
  'hashlimit:hashlimit': '--hashlimit-name h',
  'hashlimit:hashlimit-burst': '--hashlimit-upto 1/sec --hashlimit-name h',
  'hashlimit:hashlimit-mode': '--hashlimit-upto 1/sec --hashlimit-name h',
  'hashlimit:hashlimit-srcmask': '--hashlimit-upto 1/sec --hashlimit-name h',
  'hashlimit:hashlimit-htable-expire': '--hashlimit-upto 1/sec --hashlimit-name h',
  'hashlimit:hashlimit-name': '--hashlimit-upto 1/sec',
};

export interface GenCase {
  table: string;
  chain: string;
  rule: string;
}

function optionCases(name: string, kind: 'match' | 'target', o: OptionSpec): string[][] {
  const h = HINTS[name] ?? {};
  const head = kind === 'match' ? `-m ${name}` : `-j ${name}`;
  const prefix = h.prefix ? `${h.prefix} ` : '';
  const comp = COMPANION[`${name}:${o.name}`];
  const base = comp ? ` ${comp}` : '';
  const rules: string[][] = [];
  const add = (opt: string) => rules.push([`${prefix}${head}${base} ${opt}`.replace(/\s+/g, ' ').trim()]);
  if (o.args === 0) {
    add(`--${o.name}`);
    add(`! --${o.name}`);
    add(`--${o.name} --${o.name}`);
    for (const a of o.aliases ?? []) add(`--${a}`);
    return rules;
  }
  const values = h.values?.[o.name] ?? ['1', '0', 'x'];
  for (const v of values) add(`--${o.name} ${v}`);
  add(`! --${o.name} ${values[0]}`);
  add(`--${o.name} ${values[0]} --${o.name} ${values[0]}`);
  for (const a of o.aliases ?? []) add(`--${a} ${values[0]}`);
  return rules;
}

export function generateCases(): GenCase[] {
  const out: GenCase[] = [];
  const seen = new Set<string>();
  const push = (table: string, chain: string, rule: string) => {
    const k = `${table} ${chain} ${rule}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ table, chain, rule });
    }
  };
  const modules: Array<['match' | 'target', { name: string; options: readonly OptionSpec[] }]> = [
    ...[...new Set(MATCHES.values())].map((m) => ['match', m] as ['match', typeof m]),
    ...[...TARGETS.values()].map((t) => ['target', t] as ['target', typeof t]),
  ];
  for (const [kind, mod] of modules) {
    const h = HINTS[mod.name] ?? {};
    const table = h.table ?? 'filter';
    const chain = h.chain ?? (table === 'filter' ? 'INPUT' : 'PREROUTING');
    push(table, chain, `${h.prefix ? `${h.prefix} ` : ''}${kind === 'match' ? `-m ${mod.name}` : `-j ${mod.name}`}`);
    for (const o of mod.options) for (const [r] of optionCases(mod.name, kind, o)) push(table, chain, r!);
  }
  return out;
}

