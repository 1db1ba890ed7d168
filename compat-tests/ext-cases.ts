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

