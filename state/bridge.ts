// The seam between the CLI's state layer and the kernel datapath.
//
// - namespaceKey(): the network namespace cookie (SO_NETNS_COOKIE), never reused by the
//   kernel, so state of a deleted namespace can never leak into a new one with the same inode.
// - beforeRead(): the kernel's per-rule counters are authoritative while a datapath is loaded;
//   they replace the model's counters (by Rule.id; policies by chain slot 0..2, only for base
//   chains that count their policy as iptables-nft's do: see Chain.base).
// - commit(): compile the filter table (throws XtablesError for anything the datapath cannot
//   enforce, before anything changes), then swap it in atomically. Counter slots are written
//   only where the command changed them (new rules, -Z, -c, restore): every other rule keeps
//   counting across the swap.
import { bpffsRoot, ensureDatapath, netnsCookie, openDatapath, specIsTrivial } from '../bpf/loader/api.ts';
import { collectDeadNamespaces } from './gc.ts';
import { compileTable } from '../classifier/compile.ts';
import { stateDir, stateRoot } from './store.ts';
import { xdpDrops } from '../classifier/xdp.ts';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSpec, newSpecTag, saveSpec } from './spec-cache.ts';
import { updateSpec } from '../classifier/incremental.ts';
import type { TableSpec } from '../classifier/spec.ts';
import { mark } from './timing.ts';
import { emptyTable, policyCounted, type Counters, type Ruleset, type Table } from '../ruleset/types.ts';

/** Policy counter slots of the filter table's built-in chains (classifier/compile.ts). */
const POLICY_SLOT: Readonly<Record<string, number>> = { INPUT: 0, FORWARD: 1, OUTPUT: 2 };

let cachedKey: string | undefined;

/**
 * BPFTABLES_TEST_NO_DATAPATH=1 keeps everything in the model (no kernel work): only for the CLI
 * differential suite, whose thousands of commands test parsing and output, not enforcement.
 */
const noDatapath = (): boolean => process.env.BPFTABLES_TEST_NO_DATAPATH === '1';

/** Key of the current network namespace: its cookie, as a decimal string. */
export function namespaceKey(): string {
  cachedKey ??= netnsCookie().toString();
  return cachedKey;
}

function hasDatapathWork(t: Table | undefined): boolean {
  return t !== undefined && t.chains.some((c) => c.rules.length > 0 || (c.policy !== undefined && c.policy !== 'ACCEPT'));
}

/**
 * Called on every loaded ruleset before it is listed or edited: counters from the kernel.
 * `need`: 'all' (default), 'policies' (only the built-in chains' policy counters, e.g. for
 * iptables-save without -c, whose chain lines show them) or 'none' (a read-only command that
 * shows no counter: -C, -S and -L without -v), which costs nothing.
 */
export function beforeRead(ruleset: Ruleset, need: 'all' | 'policies' | 'none' = 'all'): Ruleset {
  if (noDatapath() || need === 'none') return ruleset;
  const filter = ruleset.tables.filter;
  if (!hasDatapathWork(filter)) return ruleset;
  const dp = openDatapath();
  if (!dp) return ruleset;
  // Only the slots in use: a full-map batch read walks every slot (262,144 by default).
  const ids = [0, 1, 2];
  const rules = need === 'all';
  if (rules) for (const c of filter!.chains) for (const r of c.rules) if (r.id !== undefined) ids.push(r.id);
  let counters: Map<number, Counters>;
  try {
    counters = dp.readCounters(ids);
  } finally {
    dp.close();
  }
  const zero: Counters = { packets: 0n, bytes: 0n };
  const table: Table = {
    ...filter!,
    chains: filter!.chains.map((c) => ({
      ...c,
      counters: c.name in POLICY_SLOT ? (policyCounted(c) ? (counters.get(POLICY_SLOT[c.name]!) ?? zero) : zero) : c.counters,
      // A rule whose counters did not move keeps its object (no copy per rule at 10k rules).
      rules: rules
        ? c.rules.map((r) => {
            if (r.id === undefined) return r;
            const k = counters.get(r.id) ?? zero;
            return sameCounters(k, r.counters) ? r : { ...r, counters: k };
          })
        : c.rules,
    })),
  };
  return { ...ruleset, tables: { ...ruleset.tables, filter: table } };
}

function sameCounters(a: Counters, b: Counters): boolean {
  return a.packets === b.packets && a.bytes === b.bytes;
}

/**
 * Called with the lock held after a command produced a new ruleset and before it is persisted
 * (with the returned spec tag: the filter table's spec is cached under it, spec-cache.ts).
 * Rules of `newRuleset` all have ids; ids that did not exist in `oldRuleset` are new counter
 * slots (the state layer never reuses an id of `oldRuleset` for a different rule in one commit).
 */
export function commit(oldRuleset: Ruleset, newRuleset: Ruleset, oldSpecTag?: string): string {
  const filter = newRuleset.tables.filter ?? emptyTable('filter');
  // Compiled even without a datapath: a rule the datapath could not enforce is refused the same.
  // From the cached spec of the old table when it differs by a few rules (the incremental
  // path compiles the new rules the same way, so refuses the same).
  let spec: TableSpec | undefined;
  if (oldSpecTag !== undefined) {
    const prev = loadSpec(stateDir(), oldSpecTag);
    mark('spec load');
    if (prev) spec = updateSpec(prev, oldRuleset.tables.filter ?? emptyTable('filter'), filter);
  }
  mark(spec ? 'compile (incremental)' : 'no incremental path');
  spec ??= compileTable(filter);
  mark('compile');
  const tag = newSpecTag();
  const keep = (): string => {
    saveSpec(stateDir(), spec, tag);
    mark('spec save');
    return tag;
  };
  if (noDatapath()) return keep();
  if (specIsTrivial(spec)) {
    const dp = openDatapath();
    dp?.teardown();
    return keep();
  }
  const oldFilter = oldRuleset.tables.filter;
  const oldRules = new Map<number, Counters>();
  const oldPolicies = new Map<string, Counters>();
  for (const c of oldFilter?.chains ?? []) {
    // A policy slot counts all along; it is written when the chain starts counting (base chain
    // created by -P, -Z or a restore chain line), so earlier packets never show.
    if (c.name in POLICY_SLOT && policyCounted(c)) oldPolicies.set(c.name, c.counters);
    for (const r of c.rules) if (r.id !== undefined) oldRules.set(r.id, r.counters);
  }
  // A datapath that is being created starts from zeroed slots only for what we write, so
  // write every slot then; otherwise only the slots this command changed.
  const fresh = openDatapath();
  const creating = fresh === undefined;
  fresh?.close();
  // Once per namespace lifetime: free what namespaces deleted without a teardown left pinned.
  if (creating) collectDeadNamespaces({ stateRoot: stateRoot(), pinRoot: `${bpffsRoot()}/bpftables`, self: namespaceKey() });
  const writes: Array<{ id: number; packets: bigint; bytes: bigint }> = [];
  for (const c of filter.chains) {
    // A chain that does not count its policy is never read (beforeRead shows zero): its slot is
    // written only once the chain starts counting.
    if (c.name in POLICY_SLOT && policyCounted(c)) {
      const before = oldPolicies.get(c.name);
      if (creating || !before || !sameCounters(before, c.counters)) writes.push({ id: POLICY_SLOT[c.name], ...c.counters });
    }
    for (const r of c.rules) {
      const before = r.id === undefined ? undefined : oldRules.get(r.id);
      if (creating || !before || !sameCounters(before, r.counters)) writes.push({ id: r.id!, ...r.counters });
    }
  }
  mark('counter diff');
  const wantXdp = xdpRequested();
  const dp = ensureDatapath();
  mark('open datapath');
  try {
    if (wantXdp && !dp.xdpEnabled()) {
      try {
        dp.enableXdp();
      } catch (e) {
        process.stderr.write(`bpftables: the XDP fast path could not be loaded (${(e as Error).message}); filtering continues at the netfilter hooks\n`);
      }
    }
    dp.commit(spec, writes, wantXdp ? xdpDrops(filter) : undefined);
    mark('datapath commit');
  } finally {
    dp.close();
  }
  return keep();
}

/**
 * The XDP fast path (pcn-iptables-init-xdp) is a property of the namespace's state, so that it
 * comes back when a datapath is recreated (a trivial ruleset detaches everything).
 */
const XDP_FLAG = 'xdp';

export function xdpRequested(): boolean {
  return existsSync(join(stateDir(), XDP_FLAG));
}

export function requestXdp(on: boolean): void {
  const f = join(stateDir(), XDP_FLAG);
  if (on) {
    mkdirSync(stateDir(), { recursive: true });
    writeFileSync(f, '');
  } else rmSync(f, { force: true });
}

/** Called by `--bpftables-teardown` before the state directory is removed. */
export function teardown(): void {
  if (noDatapath()) return;
  openDatapath()?.teardown();
}
