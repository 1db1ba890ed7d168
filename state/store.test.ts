import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyTable, type Ruleset } from '../ruleset/types.ts';
import { assignIds, loadRuleset, parseRulesetJson, saveRuleset, serialiseRuleset, stateDir } from './store.ts';

const dir = mkdtempSync(join(tmpdir(), 'bpft-state-'));
process.env.BPFTABLES_STATE_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withRules = (ids: Array<number | undefined>): Ruleset => {
  const t = emptyTable('filter');
  t.chains[0]!.rules = ids.map((id) => ({ ...(id !== undefined ? { id } : {}), matches: [], counters: { packets: 1n, bytes: 2n } }));
  return { tables: { filter: t } };
};

describe('state store', () => {
  it('round-trips u64 counters as decimal strings', () => {
    const r = withRules([16]);
    r.tables.filter!.chains[0]!.rules[0]!.counters = { packets: 18446744073709551615n, bytes: 5n };
    const text = serialiseRuleset(r);
    expect(text).toContain('"18446744073709551615"');
    expect(parseRulesetJson(text)).toEqual(r);
  });
  it('leaves zero counters out of the file and reads them back as zero', () => {
    const r = withRules([16, 17]);
    r.tables.filter!.chains[0]!.rules[1]!.counters = { packets: 0n, bytes: 0n };
    const text = serialiseRuleset(r);
    expect(text.match(/"counters"/g)?.length).toBe(1);
    const back = parseRulesetJson(text);
    expect(back).toEqual(r);
    // Each rule gets its own counters object (apply may replace them per rule).
    const [a, b] = back.tables.filter!.chains.map((c) => c.counters);
    expect(a).not.toBe(b);
  });
  it('persists atomically and reloads', () => {
    expect(loadRuleset()).toEqual({ tables: {} });
    const r = withRules([16, 17]);
    saveRuleset(r);
    expect(loadRuleset()).toEqual(r);
    expect(readFileSync(join(stateDir(), 'ruleset.json'), 'utf8')).toContain('"packets":"1"');
  });
  it('assigns the smallest free ids without reusing ids of the old ruleset', () => {
    const old = withRules([16, 17, 18]);
    const next = withRules([16, undefined, 18, undefined]);
    const ids = assignIds(old, next).tables.filter!.chains[0]!.rules.map((r) => r.id);
    expect(ids).toEqual([16, 19, 18, 20]);
  });
});
