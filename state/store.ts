// Persistence of the Ruleset of one network namespace:
//   <root>/<namespaceKey>/ruleset.json   (root: /run/bpftables, or BPFTABLES_STATE_DIR)
// Written as a temporary file, fsync'ed, then renamed over the old one: a killed command leaves
// the old or the new ruleset, never a mix. Counters are decimal strings in JSON (u64), left
// out when zero.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Ruleset, Table, TableName } from '../ruleset/types.ts';
import * as bridge from './bridge.ts';
import { recordNetns } from './gc.ts';

export function stateRoot(): string {
  return process.env.BPFTABLES_STATE_DIR ?? '/run/bpftables';
}

export function stateDir(): string {
  return join(stateRoot(), bridge.namespaceKey());
}

const FILE = 'ruleset.json';

type Raw = { packets: string | bigint; bytes: string | bigint } | undefined;
const toCounters = (c: Raw): { packets: bigint; bytes: bigint } => {
  // Zero counters are not written (most are); "0" is cheaper to test than to parse.
  if (c === undefined) return { packets: 0n, bytes: 0n };
  c.packets = c.packets === '0' ? 0n : BigInt(c.packets);
  c.bytes = c.bytes === '0' ? 0n : BigInt(c.bytes);
  return c as { packets: bigint; bytes: bigint };
};

export function parseRulesetJson(text: string): Ruleset {
  return parseStateJson(text).ruleset;
}

/** The ruleset and the tag of the filter table's cached spec (state/spec-cache.ts), if any. */
export function parseStateJson(text: string): { ruleset: Ruleset; specTag?: string } {
  // A reviver costs seconds at 50k rules; convert the known counter fields in one pass instead.
  const r = JSON.parse(text) as Ruleset & { specTag?: string };
  if (!r || typeof r !== 'object' || !r.tables) return { ruleset: { tables: {} } };
  const specTag = typeof r.specTag === 'string' ? r.specTag : undefined;
  delete r.specTag;
  for (const t of Object.values(r.tables)) {
    if (!t) continue;
    for (const c of t.chains) {
      c.counters = toCounters(c.counters as unknown as Raw);
      for (const rule of c.rules) rule.counters = toCounters(rule.counters as unknown as Raw);
    }
  }
  return { ruleset: r, specTag };
}

/** Counters as JSON: decimal strings (u64), or nothing when both are zero. */
const rawCounters = (c: { packets: bigint; bytes: bigint }): Raw =>
  c.packets === 0n && c.bytes === 0n ? undefined : { packets: c.packets.toString(), bytes: c.bytes.toString() };

export function serialiseRuleset(r: Ruleset, specTag?: string): string {
  // Shallow copies with the counters converted: a replacer function (or BigInt#toJSON) is
  // called per key / per value and costs more than the copies at 10k+ rules.
  const tables: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(r.tables)) {
    if (!t) continue;
    tables[name] = {
      ...t,
      chains: t.chains.map((c) => ({
        ...c,
        counters: rawCounters(c.counters),
        rules: c.rules.map((rule) => (rule.counters.packets === 0n && rule.counters.bytes === 0n ? { ...rule, counters: undefined } : { ...rule, counters: rawCounters(rule.counters) })),
      })),
    };
  }
  return JSON.stringify(specTag === undefined ? { ...r, tables } : { ...r, tables, specTag });
}

/** The persisted ruleset, or the empty one if this namespace has none yet. */
export function loadRuleset(): Ruleset {
  return loadState().ruleset;
}

/** The persisted ruleset and the tag of its filter table's cached spec. */
export function loadState(): { ruleset: Ruleset; specTag?: string } {
  let text: string;
  try {
    text = readFileSync(join(stateDir(), FILE), 'utf8');
  } catch {
    return { ruleset: { tables: {} } };
  }
  return parseStateJson(text);
}

/** `specTag`: the tag the filter table's spec was cached under (spec-cache.ts), written first. */
export function saveRuleset(r: Ruleset, specTag?: string): void {
  const dir = stateDir();
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) recordNetns(dir);
  const tmp = join(dir, `${FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, serialiseRuleset(r, specTag));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, FILE));
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}

/** Removes this namespace's state. */
export function removeState(): void {
  rmSync(stateDir(), { recursive: true, force: true });
}

/** First rule id; ids below are policy counter slots (DESIGN.md). */
export const FIRST_RULE_ID = 16;

/**
 * Gives every rule without an id the smallest free id ≥ 16 of its table, where ids used in the
 * old table count as taken too (so one commit never hands a deleted rule's counter slot to a new
 * rule). Rules that have ids keep them. Returns a new ruleset; O(rules).
 */
export function assignIds(oldRuleset: Ruleset, newRuleset: Ruleset): Ruleset {
  const tables: Partial<Record<TableName, Table>> = {};
  for (const [name, table] of Object.entries(newRuleset.tables) as [TableName, Table][]) {
    let missing = false;
    let max = FIRST_RULE_ID;
    for (const c of table.chains)
      for (const r of c.rules) {
        if (r.id === undefined) missing = true;
        else if (r.id > max) max = r.id;
      }
    if (!missing) {
      tables[name] = table;
      continue;
    }
    for (const c of oldRuleset.tables[name]?.chains ?? []) for (const r of c.rules) if (r.id !== undefined && r.id > max) max = r.id;
    // Ids in use, as a bitmap (ids are dense from 16: cheaper than a Set at 10k+ rules).
    const used = new Uint8Array(max + 1);
    for (const c of oldRuleset.tables[name]?.chains ?? []) for (const r of c.rules) if (r.id !== undefined) used[r.id] = 1;
    for (const c of table.chains) for (const r of c.rules) if (r.id !== undefined) used[r.id] = 1;
    let next = FIRST_RULE_ID;
    tables[name] = {
      ...table,
      // Chains without a new rule keep their objects.
      chains: table.chains.map((c) => {
        if (c.rules.every((r) => r.id !== undefined)) return c;
        return {
          ...c,
          rules: c.rules.map((r) => {
            if (r.id !== undefined) return r;
            while (next < used.length && used[next]) next++;
            return { ...r, id: next++ };
          }),
        };
      }),
    };
  }
  return { tables };
}
