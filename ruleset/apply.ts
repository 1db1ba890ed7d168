// apply(ruleset, command) → new ruleset, with iptables-nft 1.8.9's semantics and messages.
//
// Invariants:
// - Pure: the input ruleset is never mutated. A Transaction copies a table's chain list and a
//   chain's rule array at most once (copy on first write), so a restore file of n rules costs
//   O(n), not O(n²).
// - Rule objects are immutable once in a ruleset; an edit that keeps a rule's identity (zeroing
//   counters, renaming a jump target) replaces the object but keeps `id`.
// - Tables absent from `ruleset.tables` are in their initial state; listing shows their built-in
//   chains, iptables-save omits them; a write (-A/-I/-R/-N/-P, restore) creates them.
import { findMatch, findTarget } from '../extensions/index.ts';
import type { Command, ListOptions } from '../parser/ast.ts';
import { XtablesError, otherProblem, parameterProblem } from '../parser/errors.ts';
import { isTargetName } from '../parser/command.ts';
import {
  FMT_PRINT_RULE, chainsInOrder, formatList, formatListRules, formatRuleRow, listFormat, referenceCounts,
  type FormatEnv,
} from './format.ts';
import type { Chain, Rule, Ruleset, Table, TableName } from './types.ts';
import { TABLE_NAMES, chainExists, emptyTable, isBuiltinChain, zeroCounters } from './types.ts';

export interface ApplyEnv extends FormatEnv {
  /** BPFTABLES_MODEL_ONLY=1: accept rules in tables the datapath does not enforce. */
  modelOnly?: boolean;
  /** Program name for messages ("iptables"). */
  program?: string;
}

export interface ApplyResult {
  ruleset: Ruleset;
  /** What the command prints on stdout (listings, -v messages). */
  stdout: string;
  /** Whether the ruleset changed (read-only commands leave state untouched). */
  changed: boolean;
}

/** Tables whose rules the eBPF datapath enforces. */
export const ENFORCED_TABLES: ReadonlySet<TableName> = new Set(['filter']);

/** Nested jump depth nf_tables accepts (NFT_JUMP_STACK_SIZE); deeper or looping → EMLINK. */
const JUMP_STACK_SIZE = 16;

const noSuchChain = (): XtablesError => new XtablesError('iptables: No chain/target/match by that name.', 1, { raw: true });
const badRule = (): XtablesError => new XtablesError('iptables: Bad rule (does a matching rule exist in that chain?).', 1, { raw: true });

export function checkTableName(name: string): TableName {
  if (!(TABLE_NAMES as readonly string[]).includes(name)) throw new XtablesError(`table '${name}' does not exist`, 3);
  return name as TableName;
}

/** Structural equality of two rules' specifications (counters and id ignored): -D / -C by spec. */
export function rulesEqual(a: Rule, b: Rule): boolean {
  const addrEq = (x: Rule['src'], y: Rule['src']): boolean =>
    (x?.addr ?? 0) === (y?.addr ?? 0) && (x?.mask ?? 0) === (y?.mask ?? 0) && (x?.invert ?? false) === (y?.invert ?? false);
  const ifEq = (x: Rule['inIface'], y: Rule['inIface']): boolean => (x?.name ?? '') === (y?.name ?? '') && (x?.invert ?? false) === (y?.invert ?? false);
  if (!addrEq(a.src, b.src) || !addrEq(a.dst, b.dst)) return false;
  if (!ifEq(a.inIface, b.inIface) || !ifEq(a.outIface, b.outIface)) return false;
  if ((a.proto?.proto ?? 0) !== (b.proto?.proto ?? 0) || (a.proto?.invert ?? false) !== (b.proto?.invert ?? false)) return false;
  if ((a.fragment === undefined) !== (b.fragment === undefined) || (a.fragment?.invert ?? false) !== (b.fragment?.invert ?? false)) return false;
  if (a.matches.length !== b.matches.length) return false;
  for (let i = 0; i < a.matches.length; i++) {
    const x = a.matches[i]!;
    const y = b.matches[i]!;
    if (x.name !== y.name) return false;
    const mod = findMatch(x.name);
    if (mod?.equal ? !mod.equal(x.data, y.data) : !deepEqual(x.data, y.data)) return false;
  }
  const ta = a.target;
  const tb = b.target;
  if (!ta || !tb) return !ta && !tb;
  if (ta.kind !== tb.kind) return false;
  switch (ta.kind) {
    case 'standard':
      return ta.verdict === (tb as typeof ta).verdict;
    case 'jump':
    case 'goto':
      return ta.chain === (tb as typeof ta).chain;
    case 'extension': {
      const y = tb as typeof ta;
      if (ta.name !== y.name) return false;
      const mod = findTarget(ta.name);
      return mod?.equal ? mod.equal(ta.data, y.data) : deepEqual(ta.data, y.data);
    }
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * A batch of commands over one ruleset (one iptables command, or one restore file). Copies
 * what it writes, once; `result()` returns the new ruleset.
 */
export class Transaction {
  private readonly tables: Partial<Record<TableName, Table>>;
  private readonly ownTables = new Set<Table>();
  private readonly ownChains = new Set<Chain>();
  changed = false;
  /** Restore checks jumps once per table at COMMIT instead of after every rule (O(n) not O(n²)). */
  deferJumpCheck = false;
  /** Set when a deferred check is due: the last rule command that added a jump. */
  pendingJump: { op: string; chain: string } | undefined;
  private readonly index = new WeakMap<Table, Map<string, number>>();

  constructor(readonly base: Ruleset, readonly env: ApplyEnv = {}) {
    this.tables = { ...base.tables };
  }

  result(): Ruleset {
    return this.changed ? { tables: { ...this.tables } } : this.base;
  }

  /** The table as it is now (absent → its initial state, not created). */
  view(name: TableName): Table {
    return this.tables[name] ?? emptyTable(name);
  }

  exists(name: TableName): boolean {
    return this.tables[name] !== undefined;
  }

  /** The table, created if absent, owned by this transaction (chain list copied). */
  writable(name: TableName): Table {
    let t = this.tables[name];
    if (!t) {
      t = emptyTable(name);
      this.ownTables.add(t);
      for (const c of t.chains) this.ownChains.add(c);
      this.tables[name] = t;
    } else if (!this.ownTables.has(t)) {
      t = { name: t.name, chains: t.chains.slice() };
      this.ownTables.add(t);
      this.tables[name] = t;
    }
    this.changed = true;
    return t;
  }

  private chainIndex(table: Table, name: string): number {
    let m = this.index.get(table);
    if (!m) {
      m = new Map();
      for (let i = 0; i < table.chains.length; i++) m.set(table.chains[i]!.name, i);
      this.index.set(table, m);
    }
    const i = m.get(name);
    return i !== undefined && table.chains[i]?.name === name ? i : -1;
  }

  /** Call after changing a table's chain list or a chain's name. */
  invalidate(table: Table): void {
    this.index.delete(table);
  }

  findChain(table: Table, name: string): Chain | undefined {
    const i = this.chainIndex(table, name);
    return i < 0 ? undefined : table.chains[i];
  }

  /** A chain of a writable table, owned by this transaction (rule array copied). */
  writableChain(table: Table, name: string): Chain | undefined {
    const i = this.chainIndex(table, name);
    if (i < 0) return undefined;
    let c = table.chains[i]!;
    if (!this.ownChains.has(c)) {
      c = { ...c, rules: c.rules.slice() };
      this.ownChains.add(c);
      table.chains[i] = c;
    }
    this.changed = true;
    return c;
  }

  /** Drops a table back to its initial (absent) state (restore without --noflush). */
  reset(name: TableName): void {
    if (this.tables[name]) {
      delete this.tables[name];
      this.changed = true;
    }
  }
}

function refuseUnenforced(table: TableName, env: ApplyEnv): void {
  if (!ENFORCED_TABLES.has(table) && !env.modelOnly)
    throw new XtablesError(
      `bpftables: table \`${table}' is not enforced by the eBPF datapath yet; set BPFTABLES_MODEL_ONLY=1 to keep such rules in the model only`,
      1,
      { raw: true },
    );
}

/** A jump or goto to a chain that does not exist (restore reports it at COMMIT). */
export class MissingJumpTarget extends XtablesError {
  constructor(chain: string) {
    super(`Chain '${chain}' does not exist`, 2);
  }
}

/** "Chain 'X' does not exist" / builtin jump checks for a rule's jump or goto. */
function checkJump(tx: Transaction, table: TableName, rule: Rule): void {
  const t = rule.target;
  if (!t || (t.kind !== 'jump' && t.kind !== 'goto')) return;
  if (!tx.findChain(tx.view(table), t.chain)) throw new MissingJumpTarget(t.chain);
}

/**
 * An error nf_tables reports when the batch is committed (exit 4). iptables prints
 * "iptables v1.8.9 (nf_tables):  DETAIL"; iptables-restore "…: \nline N: DETAIL".
 */
export class BatchError extends XtablesError {
  constructor(readonly detail: string) {
    super(` ${detail}`, 4);
  }
}

/** An error after the command already printed `stdout` (iptables writes as it goes). */
function withStdout(e: XtablesError, stdout: string): XtablesError {
  e.partialStdout = stdout;
  return e;
}

function batchError(op: string, errno: string, what: string): XtablesError {
  return new BatchError(`${op} failed (${errno}): ${what}`);
}

/** nf_tables' validation at commit: no jump to a base chain; no loops; depth ≤ 16. */
export function validateJumps(table: Table): { chain: string; errno: string } | undefined {
  const byName = new Map<string, Chain>();
  for (const c of table.chains) byName.set(c.name, c);
  for (const c of table.chains)
    for (const r of c.rules) {
      const t = r.target;
      if (t && (t.kind === 'jump' || t.kind === 'goto') && byName.get(t.chain)?.policy !== undefined)
        return { chain: c.name, errno: 'Operation not supported' };
    }
  const depth = new Map<string, number>();
  const onStack = new Set<string>();
  let bad = false;
  const visit = (c: Chain): number => {
    const known = depth.get(c.name);
    if (known !== undefined) return known;
    if (onStack.has(c.name)) {
      bad = true;
      return JUMP_STACK_SIZE + 1;
    }
    onStack.add(c.name);
    let d = 0;
    for (const r of c.rules) {
      const t = r.target;
      if (t && (t.kind === 'jump' || t.kind === 'goto')) {
        const next = byName.get(t.chain);
        if (next) d = Math.max(d, 1 + visit(next));
        if (bad) break;
      }
    }
    onStack.delete(c.name);
    depth.set(c.name, d);
    return d;
  };
  for (const c of table.chains) {
    if (c.policy === undefined) continue;
    const d = visit(c);
    if (bad || d > JUMP_STACK_SIZE) return { chain: c.name, errno: 'Too many links' };
  }
  return undefined;
}

function hasJump(rules: readonly Rule[]): boolean {
  return rules.some((r) => r.target?.kind === 'jump' || r.target?.kind === 'goto');
}

const RULE_OPS: Partial<Record<Command['kind'], string>> = { append: 'RULE_APPEND', insert: 'RULE_INSERT', replace: 'RULE_REPLACE' };

/**
 * Runs one command inside a transaction. Listing output and -v messages are returned.
 * Errors are XtablesError with iptables-nft's wording.
 */
export function runCommand(tx: Transaction, cmd: Command): string {
  const table = checkTableName(cmd.table);
  const env = tx.env;
  let out = '';
  switch (cmd.kind) {
    case 'append':
    case 'insert':
    case 'replace': {
      for (const r of cmd.rules) checkJump(tx, table, r);
      const view = tx.view(table);
      const echo = cmd.verbose ? cmd.rules.map((r) => formatRuleRow(r, 0, FMT_PRINT_RULE, env)).join('') : '';
      // iptables-nft echoes an appended rule (-v) before it looks the chain up; -I / -R look up
      // the chain and the position first. Errors of the commit (exit 4) follow the echo.
      if (!tx.findChain(view, cmd.chain!)) throw withStdout(noSuchChain(), cmd.kind === 'append' ? echo : '');
      if (cmd.kind === 'insert' && cmd.rulenum! - 1 > tx.findChain(view, cmd.chain!)!.rules.length)
        throw new XtablesError('iptables: Index of insertion too big.', 1, { raw: true });
      if (cmd.kind === 'replace') {
        // As for -D n: an untouched table has no chains yet in nf_tables.
        if (!tx.exists(table)) throw noSuchChain();
        if (cmd.rulenum! > tx.findChain(view, cmd.chain!)!.rules.length)
          throw new XtablesError('iptables: Index of replacement too big.', 1, { raw: true });
      }
      // The kernel's refusals come after iptables' own checks, and before bpftables' refusal of
      // tables it does not enforce (iptables-nft would report the kernel's answer); they follow
      // the -v echo.
      // nf_tables refuses a zero-length payload comparison: `! -s x/0` can never be added.
      if (cmd.rules.some((r) => (r.src?.invert && r.src.mask === 0) || (r.dst?.invert && r.dst.mask === 0)))
        throw withStdout(batchError(RULE_OPS[cmd.kind]!, 'Invalid argument', `rule in chain ${cmd.chain}`), echo);
      if (cmd.kernelRejects) throw withStdout(batchError(RULE_OPS[cmd.kind]!, cmd.kernelRejects.errno, `rule in chain ${cmd.kernelRejects.chain}`), echo);
      refuseUnenforced(table, env);
      out = echo;
      const t = tx.writable(table);
      const c = tx.writableChain(t, cmd.chain!)!;
      // iptables-nft creates a missing base chain for the rule, without policy counters.
      if (!chainExists(c)) c.base = 'plain';
      for (const r of cmd.rules) {
        if (cmd.kind === 'append') c.rules.push(r);
        else if (cmd.kind === 'insert') c.rules.splice(cmd.rulenum! - 1, 0, r);
        else c.rules[cmd.rulenum! - 1] = r;
      }
      if (hasJump(cmd.rules) && tx.deferJumpCheck) tx.pendingJump = { op: RULE_OPS[cmd.kind]!, chain: cmd.chain! };
      else if (hasJump(cmd.rules)) {
        const bad = validateJumps(t);
        // The batch holds this one rule: nf_tables' error names the chain it was added to.
        if (bad) throw withStdout(batchError(RULE_OPS[cmd.kind]!, bad.errno, `rule in chain ${cmd.chain}`), echo);
      }
      return out;
    }
    case 'delete':
    case 'check': {
      for (const r of cmd.rules) checkJump(tx, table, r);
      const view = tx.view(table);
      const chain = tx.findChain(view, cmd.chain!);
      // nft_rule_check / nft_rule_delete look the rule up and find none (ENOENT: "Bad rule"): in
      // a chain that does not exist, or one the kernel would refuse (it is never sent to the kernel).
      const bad = badRule();
      if (!chain || cmd.kernelRejects) throw bad;
      if (cmd.kind === 'check') {
        for (const r of cmd.rules) {
          if (!chain.rules.some((x) => rulesEqual(x, r))) throw bad;
          if (cmd.verbose) out += formatRuleRow(r, 0, FMT_PRINT_RULE, env);
        }
        return out;
      }
      const t = tx.writable(table);
      const c = tx.writableChain(t, cmd.chain!)!;
      for (const r of cmd.rules) {
        if (cmd.verbose) out += formatRuleRow(r, 0, FMT_PRINT_RULE, env);
        const i = c.rules.findIndex((x) => rulesEqual(x, r));
        if (i < 0) throw bad;
        c.rules.splice(i, 1);
      }
      return out;
    }
    case 'delete-num': {
      // A base chain nf_tables has not created yet (untouched table, or only other chains
      // written) cannot be found by -D n.
      const chain = tx.exists(table) ? tx.findChain(tx.view(table), cmd.chain!) : undefined;
      if (!chain || !chainExists(chain)) throw noSuchChain();
      if (cmd.rulenum! > chain.rules.length) throw new XtablesError('iptables: Index of deletion too big.', 1, { raw: true });
      const c = tx.writableChain(tx.writable(table), cmd.chain!)!;
      c.rules.splice(cmd.rulenum! - 1, 1);
      return out;
    }
    case 'flush': {
      const view = tx.view(table);
      // nft_rule_flush creates the table (nft_xt_builtin_init) when it names a chain or is
      // verbose; a plain -F of an untouched table leaves it absent.
      if (cmd.chain !== undefined) {
        if (!tx.findChain(view, cmd.chain)) throw noSuchChain();
        if (cmd.verbose) out += `Flushing chain \`${cmd.chain}'\n`;
        const named = tx.findChain(view, cmd.chain)!;
        // -F of a missing base chain creates it (plain), as iptables-nft does.
        if (named.rules.length === 0 && chainExists(named) && tx.exists(table)) return out;
        const c = tx.writableChain(tx.writable(table), cmd.chain)!;
        if (!chainExists(c)) c.base = 'plain';
        c.rules.length = 0;
        return out;
      }
      for (const c of chainsInOrder(view)) {
        if (cmd.verbose) out += `Flushing chain \`${c.name}'\n`;
      }
      // -F -v flushes chain by chain, which creates every missing base chain (plain); -F alone
      // flushes the table's rules and creates nothing.
      const create = cmd.verbose > 0 && view.chains.some((c) => !chainExists(c));
      if (!tx.exists(table) && !create) return out;
      const t = tx.writable(table);
      for (const c of t.chains) {
        if (c.rules.length) tx.writableChain(t, c.name)!.rules.length = 0;
        if (create && !chainExists(c)) tx.writableChain(t, c.name)!.base = 'plain';
      }
      return out;
    }
    case 'zero':
    case 'zero-num':
      return zero(tx, table, cmd.chain, cmd.kind === 'zero-num' ? cmd.rulenum : undefined, cmd.verbose > 0);
    case 'list':
    case 'list-rules': {
      const view = tx.view(table);
      if (cmd.chain !== undefined && !tx.findChain(view, cmd.chain))
        throw new XtablesError(`chain \`${cmd.chain}' in table \`${table}' is incompatible, use 'nft' tool.`, 1);
      out =
        cmd.kind === 'list'
          ? formatList(view, cmd.chain, cmd.rulenum, listFormat(cmd.list), env)
          : formatListRules(view, cmd.chain, cmd.rulenum, cmd.list.verbose);
      if (cmd.zero) out = zeroListed(tx, table, cmd.chain, cmd.zero === 'rule' ? cmd.rulenum : undefined, cmd.list.verbose, out);
      return out;
    }
    case 'new-chain': {
      const name = cmd.chain!;
      if (isTargetName(name)) throw parameterProblem('chain name may not clash with target name');
      if (tx.findChain(tx.view(table), name)) throw new XtablesError('iptables: Chain already exists.', 1, { raw: true });
      const t = tx.writable(table);
      t.chains.push({ name, counters: zeroCounters(), rules: [] });
      tx.invalidate(t);
      return out;
    }
    case 'delete-chain': {
      const view = tx.view(table);
      const refs = referenceCounts(view);
      const busy = (c: Chain): boolean => c.rules.length > 0 || (refs.get(c.name) ?? 0) > 0;
      if (cmd.chain !== undefined) {
        const c = tx.findChain(view, cmd.chain);
        if (!c) throw noSuchChain();
        if (c.policy !== undefined) return deleteBaseChain(tx, table, c);
        if (busy(c)) throw batchError('CHAIN_DEL', 'Device or resource busy', `chain ${c.name}`);
        if (cmd.verbose) out += `Deleting chain \`${c.name}'\n`;
        const t = tx.writable(table);
        t.chains.splice(t.chains.findIndex((x) => x.name === c.name), 1);
        tx.invalidate(t);
        return out;
      }
      const users = chainsInOrder(view).filter((c) => c.policy === undefined);
      for (const c of users) if (busy(c)) throw batchError('CHAIN_DEL', 'Device or resource busy', `chain ${c.name}`);
      if (cmd.verbose) for (const c of users) out += `Deleting chain \`${c.name}'\n`;
      // iptables-nft 1.8.9's -X also deletes, silently, every base chain that is empty with an
      // ACCEPT policy (observed: -F -v then -X leaves no base chain; a DROP one stays).
      const idle = view.chains.filter((c) => c.policy === 'ACCEPT' && c.base !== undefined && c.rules.length === 0);
      if (users.length || (idle.length && tx.exists(table))) {
        const t = tx.writable(table);
        t.chains = t.chains.filter((c) => c.policy !== undefined);
        for (const c of idle) {
          const w = tx.writableChain(t, c.name)!;
          delete w.base;
          w.counters = zeroCounters();
        }
        tx.invalidate(t);
      }
      return out;
    }
    case 'rename-chain': {
      const view = tx.view(table);
      const c = tx.findChain(view, cmd.chain!);
      if (!c || c.policy !== undefined) throw noSuchChain();
      if (tx.findChain(view, cmd.newName!)) throw new XtablesError('iptables: File exists.', 1, { raw: true });
      const t = tx.writable(table);
      const from = cmd.chain!;
      const to = cmd.newName!;
      for (const ch of t.chains) {
        if (!ch.rules.some((r) => (r.target?.kind === 'jump' || r.target?.kind === 'goto') && r.target.chain === from)) continue;
        const w = tx.writableChain(t, ch.name)!;
        w.rules = w.rules.map((r) =>
          (r.target?.kind === 'jump' || r.target?.kind === 'goto') && r.target.chain === from ? { ...r, target: { kind: r.target.kind, chain: to } } : r,
        );
      }
      const w = tx.writableChain(t, from)!;
      w.name = to;
      tx.invalidate(t);
      return out;
    }
    case 'policy': {
      const view = tx.view(table);
      const c = tx.findChain(view, cmd.chain!);
      if (!c || c.policy === undefined || !isBuiltinChain(table, c.name))
        throw new XtablesError('iptables: Bad built-in chain name.', 1, { raw: true });
      if (cmd.policy !== 'ACCEPT' && cmd.policy !== 'DROP')
        throw new XtablesError("iptables: Bad policy name. Run `dmesg' for more information.", 1, { raw: true });
      const w = tx.writableChain(tx.writable(table), c.name)!;
      w.policy = cmd.policy;
      // nf_tables re-creates the base chain with the policy and fresh policy counters.
      w.base = 'counted';
      w.counters = zeroCounters();
      return out;
    }
  }
}

function zeroRule(c: Chain, rulenum: number): Chain | undefined {
  const r = c.rules[rulenum - 1];
  if (!r || (r.counters.packets === 0n && r.counters.bytes === 0n)) return undefined;
  const rules = c.rules.slice();
  rules[rulenum - 1] = { ...r, counters: zeroCounters() };
  return { ...c, rules };
}

/** The chain with its rule counters and (for a base chain, which becomes counted) policy counters zeroed. */
function zeroChain(c: Chain): Chain {
  const rules = c.rules.map((r) => (r.counters.packets !== 0n || r.counters.bytes !== 0n ? { ...r, counters: zeroCounters() } : r));
  return c.policy === undefined ? { ...c, counters: zeroCounters(), rules } : { ...c, base: 'counted', counters: zeroCounters(), rules };
}

function store(tx: Transaction, table: TableName, next: Chain): void {
  const w = tx.writableChain(tx.writable(table), next.name)!;
  Object.assign(w, next);
}

function isSame(a: Chain, b: Chain): boolean {
  return (
    a.base === b.base &&
    a.counters.packets === b.counters.packets &&
    a.counters.bytes === b.counters.bytes &&
    a.rules.length === b.rules.length &&
    a.rules.every((r, i) => r === b.rules[i])
  );
}

/**
 * -Z [chain [n]] as iptables-nft 1.8.9 does it: only chains that exist in the kernel are zeroed
 * (a named missing chain is an error); -v names each zeroed chain, except for -Z chain n.
 */
function zero(tx: Transaction, table: TableName, chain: string | undefined, rulenum: number | undefined, verbose: boolean): string {
  const view = tx.view(table);
  let out = '';
  const named = chain === undefined ? undefined : tx.findChain(view, chain);
  if (chain !== undefined && (!named || !tx.exists(table) || !chainExists(named))) {
    // -Z CHAIN N looks the rule up first (iptables-nft: "Bad rule" when the chain is missing).
    if (rulenum !== undefined) throw badRule();
    throw noSuchChain();
  }
  if (!tx.exists(table)) return out;
  return out + zeroChains(tx, table, named ? [named] : chainsInOrder(view).filter(chainExists), rulenum, verbose);
}

/** Zeroes rule `rulenum` of each chain, or each whole chain (-v: "Zeroing chain" lines). */
function zeroChains(tx: Transaction, table: TableName, targets: readonly Chain[], rulenum: number | undefined, verbose: boolean): string {
  let out = '';
  for (const c of targets) {
    if (rulenum !== undefined) {
      const next = zeroRule(c, rulenum);
      if (next) store(tx, table, next);
      continue;
    }
    if (verbose) out += `Zeroing chain \`${c.name}'\n`;
    const next = zeroChain(c);
    if (!isSame(c, next)) store(tx, table, next);
  }
  return out;
}

/**
 * -L -Z: the listed chains are zeroed after listing; in an existing table missing base chains
 * are created counted, in a table nf_tables does not have yet zeroing fails (exit 4) after the
 * listing was printed.
 */
function zeroListed(
  tx: Transaction, table: TableName, chain: string | undefined, rulenum: number | undefined, verbose: boolean, listing: string,
): string {
  const view = tx.view(table);
  let out = listing;
  const targets = chainsInOrder(view).filter((c) => chain === undefined || c.name === chain);
  if (!tx.exists(table) && rulenum === undefined && targets.length > 0) {
    if (verbose) for (const c of targets) out += `Zeroing chain \`${c.name}'\n`;
    const e = batchError('CHAIN_ZERO', 'No such file or directory', `chain ${targets[0]!.name}`);
    e.partialStdout = out;
    throw e;
  }
  return out + zeroChains(tx, table, targets, rulenum, verbose);
}

/**
 * -X on a built-in chain (iptables-nft 1.8.9 deletes base chains): a missing one is not found;
 * one with rules is busy; one with a DROP policy is refused; an empty ACCEPT one is
 * deleted (it goes back to missing: no hook, no policy counters).
 */
function deleteBaseChain(tx: Transaction, table: TableName, c: Chain): string {
  if (!tx.exists(table) || !chainExists(c)) throw noSuchChain();
  if (c.rules.length > 0) throw batchError('CHAIN_DEL', 'Device or resource busy', `chain ${c.name}`);
  if (c.policy !== 'ACCEPT') throw new XtablesError('iptables: Directory not empty.', 1, { raw: true });
  const w = tx.writableChain(tx.writable(table), c.name)!;
  delete w.base;
  w.counters = zeroCounters();
  return ''; // iptables-nft prints no "Deleting chain" line for a base chain
}

/** Whether a command can change the ruleset (the state layer takes the lock and commits). */
export function isWriteCommand(cmd: Command): boolean {
  return !(cmd.kind === 'list' || cmd.kind === 'list-rules' || cmd.kind === 'check') || cmd.zero !== undefined;
}

/** Pure: one command against a ruleset; returns the new ruleset and what to print. */
export function execute(ruleset: Ruleset, cmd: Command, env: ApplyEnv = {}): ApplyResult {
  const tx = new Transaction(ruleset, env);
  const stdout = runCommand(tx, cmd);
  const next = tx.result();
  return { ruleset: next, stdout, changed: next !== ruleset };
}

/** apply(ruleset, command) → new ruleset (the pure core the integrator drives). */
export function apply(ruleset: Ruleset, cmd: Command, env: ApplyEnv = {}): Ruleset {
  return execute(ruleset, cmd, env).ruleset;
}

export type { ListOptions };
