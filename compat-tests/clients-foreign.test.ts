// The "rules of another backend are live" warning (bin/foreign.ts): the pure formatter against
// iptables-nft's wording, and the probe in a scratch namespace where iptables-legacy,
// iptables-nft and plain nftables rules are added one after the other. The iptables-nft lines
// are the ones iptables-nft 1.8.9 itself prints in the same situation (checked here too).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { foreignWarnings, WARN_LEGACY_LIST, WARN_LEGACY_SAVE, WARN_NFT_LIST, WARN_NFT_SAVE, WARN_NFTABLES } from '../bin/foreign.ts';
import { ROOT } from './lib/netns.ts';
import { Ns } from './clients/lib.ts';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const RUN = join(ROOT, 'compat-tests', 'clients', 'foreign-run.ts');

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

describe('foreignWarnings (pure)', () => {
  it.each([
    [{ legacyTables: [], nftTables: [] }, 'list', ''],
    [{ legacyTables: ['filter'], nftTables: [] }, 'list', WARN_LEGACY_LIST],
    [{ legacyTables: ['filter', 'nat'], nftTables: [] }, 'save', WARN_LEGACY_SAVE],
    [{ legacyTables: [], nftTables: [{ family: 'ip', name: 'filter' }] }, 'list', WARN_NFT_LIST],
    [{ legacyTables: [], nftTables: [{ family: 'ip', name: 'nat' }] }, 'save', WARN_NFT_SAVE],
    [{ legacyTables: [], nftTables: [{ family: 'inet', name: 'filter' }] }, 'list', WARN_NFTABLES],
    [{ legacyTables: ['filter'], nftTables: [{ family: 'ip', name: 'filter' }, { family: 'ip', name: 'fw' }] }, 'save', WARN_LEGACY_SAVE + WARN_NFT_SAVE + WARN_NFTABLES],
  ] as const)('%j %s', (state, ctx, want) => {
    expect(foreignWarnings(state as Parameters<typeof foreignWarnings>[0], ctx)).toBe(want);
  });
});

describe('detectForeignRules in a namespace', () => {
  it('reports legacy, iptables-nft and nftables rules as they appear, with iptables-nft wording', () => {
    const ns = new Ns('foreign');
    cleanups.push(() => ns.destroy());
    const probe = (): { list: string | null; save: string | null } => JSON.parse(ns.must([TSX, RUN])) as { list: string | null; save: string | null };

    expect(probe()).toEqual({ list: null, save: null });
    // iptables-nft listing creates its tables but no rule: still nothing to warn about.
    ns.must(['iptables-nft', '-L', '-n']);
    expect(probe()).toEqual({ list: null, save: null });

    ns.must(['iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT']);
    expect(probe()).toEqual({ list: WARN_LEGACY_LIST, save: WARN_LEGACY_SAVE });
    // The oracle: iptables-nft's own warning in the same state, on stderr.
    expect(ns.exec(['iptables-nft', '-S']).stderr).toBe(WARN_LEGACY_LIST);
    expect(ns.exec(['iptables-nft-save']).stderr).toBe(WARN_LEGACY_SAVE);

    ns.must(['iptables-nft', '-A', 'INPUT', '-j', 'ACCEPT']);
    expect(probe()).toEqual({ list: WARN_LEGACY_LIST + WARN_NFT_LIST, save: WARN_LEGACY_SAVE + WARN_NFT_SAVE });

    ns.must(['nft', 'add table inet bpftfw; add chain inet bpftfw c; add rule inet bpftfw c accept']);
    expect(probe().list).toBe(WARN_LEGACY_LIST + WARN_NFT_LIST + WARN_NFTABLES);

    ns.must(['nft', 'flush ruleset']);
    // Legacy tables stay registered once created (iptables-nft keeps warning too).
    ns.must(['iptables-legacy', '-F']);
    expect(probe()).toEqual({ list: WARN_LEGACY_LIST, save: WARN_LEGACY_SAVE });
  }, 120_000);
});
