// House rule 1 (../shared/STYLE.md, DESIGN.md): the core — parser/, extensions/, ruleset/,
// classifier/ — does no I/O: no fs, no child processes, no clock, no environment, no
// randomness. Everything that touches the machine lives in bin/, state/ and bpf/loader/. This test
// is the lint rule: it reads every non-test source file of the core and fails on the first use.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORE = ['parser', 'extensions', 'ruleset', 'classifier'];

const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+'node:[^']+'/, 'node: module import'],
  [/from\s+'(fs|child_process|os|net|dgram|path|process|worker_threads|koffi)'/, 'I/O module import'],
  [/\brequire\(/, 'require()'],
  [/\bimport\(/, 'dynamic import'],
  [/\bprocess\./, 'process global'],
  [/\bDate\.now\(|\bnew Date\(\s*\)/, 'wall clock'],
  [/\bperformance\.now\(/, 'clock'],
  [/\bMath\.random\(/, 'randomness'],
  [/\bconsole\./, 'console output'],
  [/from\s+'\.\.\/(state|bpf|bin|bench|compat-tests|scripts)\//, 'import from the shell'],
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'testdata') out.push(...sources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'testing.ts') out.push(p);
  }
  return out;
}

describe('the core does no I/O', () => {
  for (const dir of CORE) {
    it(`${dir}/`, () => {
      const violations: string[] = [];
      for (const file of sources(join(ROOT, dir))) {
        const lines = readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (/^\s*(\/\/|\*)/.test(line)) return;
          for (const [re, what] of FORBIDDEN) if (re.test(line)) violations.push(`${relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim()}`);
        });
      }
      expect(violations).toEqual([]);
    });
  }
});
