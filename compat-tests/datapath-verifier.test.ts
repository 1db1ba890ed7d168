// The verifier's budget: every program of bpf/build/bpftables.bpf.o must load with at most 80% of
// the kernel's 1,000,000 processed instructions (BPF_COMPLEXITY_LIMIT_INSNS), so that a new
// match or residual check that makes verification explode fails here, with the numbers, instead
// of failing the load on some later kernel. The count is the kernel's own (bpf_prog_info
// .verified_insns, cross-checked with the statistics line of the verifier log).
//
// Finding where the budget goes: verifierStats({ logLevel: 2, logSize: (1 << 30) - 1 }) gives
// the per-instruction log; count the "<insn>: (" lines per instruction index and look up the
// hot ranges' "; <source> @ file:line" comments (the usual causes: a register whose bits were
// tested twice — the verifier marks it precise and stops pruning —, bounded loops whose counter
// ends up in pointer arithmetic, pointers kept live across classify() in two shapes).
import { describe, expect, it } from 'vitest';
import { verifierStats } from '../bpf/loader/api.ts';

const LIMIT = 1_000_000;
const BUDGET = 0.8 * LIMIT;

describe('BPF verifier budget', () => {
  it(`every program verifies within ${BUDGET} processed instructions`, () => {
    const stats = verifierStats();
    expect(stats.map((s) => s.prog).sort()).toEqual(['bpftables_filter', 'bpftables_tc_in', 'bpftables_tc_out']);
    for (const s of stats) {
      const line = /processed (\d+) insns/.exec(s.log);
      console.log(`${s.prog}: ${s.verifiedInsns} verified instructions (${((100 * s.verifiedInsns) / LIMIT).toFixed(1)}% of 1M)`);
      expect(line, `statistics line of ${s.prog}: ${s.log}`).not.toBeNull();
      expect(s.verifiedInsns).toBe(Number(line![1]));
      expect(s.verifiedInsns, `${s.prog}: ${s.log}`).toBeLessThanOrEqual(BUDGET);
    }
  }, 300_000);
});
