import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileTable } from '../classifier/compile.ts';
import { tableArb } from '../classifier/random-tables.ts';
import { bigTable, STUB_LOOKUP } from '../classifier/testing.ts';
import { loadSpec, newSpecTag, saveSpec } from './spec-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'bpft-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('spec cache', () => {
  it('round-trips compiled random tables', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        let spec;
        try {
          spec = compileTable(t, STUB_LOOKUP);
        } catch {
          return;
        }
        const tag = newSpecTag();
        saveSpec(dir, spec, tag);
        expect(loadSpec(dir, tag)).toEqual(spec);
      }),
      { numRuns: 20 },
    );
  }, 120_000);
  it('round-trips a 10k-rule spec', () => {
    const spec = compileTable(bigTable(10_000), STUB_LOOKUP);
    saveSpec(dir, spec, 'big');
    expect(loadSpec(dir, 'big')).toEqual(spec);
  }, 60_000);
  it('ignores another tag and a damaged file', () => {
    const spec = compileTable(bigTable(100), STUB_LOOKUP);
    saveSpec(dir, spec, 'one');
    expect(loadSpec(dir, 'two')).toBeUndefined();
    const f = join(dir, 'filter.spec');
    writeFileSync(f, readFileSync(f).subarray(0, 100));
    expect(loadSpec(dir, 'one')).toBeUndefined();
    writeFileSync(f, 'garbage');
    expect(loadSpec(dir, 'one')).toBeUndefined();
  });
});
