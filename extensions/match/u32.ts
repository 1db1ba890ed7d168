// u32 match (libxt_u32.c): tests of 32-bit words at packet offsets, as xt_u32's interpreter
// (classifier/headers.ts u32Match, bpf/headers.h u32_prep).
import { KernelRejects, parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch, U32Test } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { strtouiPrefix, x6Fcheck, x6Seen } from '../lib.ts';

/** XT_U32_MAXSIZE: numbers per location, ranges per value, tests. */
const MAXSIZE = 10;
const OPS = ['&', '<<', '>>', '@'] as const;

export interface U32Data {
  tests: U32Test[];
  invert?: boolean;
  seen?: string[];
}

const isSpace = (c: string | undefined) => c !== undefined && /[ \t\n\v\f\r]/.test(c);

/** u32_parse(): the same state machine and error texts. */
function parseTests(arg: string): U32Test[] {
  const tests: U32Test[] = [];
  let ct: U32Test = { ops: [], ranges: [] };
  let i = 0;
  let state = 0;
  const number = (): number => {
    const r = strtouiPrefix(arg.slice(i), 0, 0xffffffff);
    if (!r || r.end === 0) throw parameterProblem(`u32: at char ${i}: not a number or out of range`);
    i += r.end;
    return r.value;
  };
  for (;;) {
    while (isSpace(arg[i])) i++;
    if (i >= arg.length) {
      if (state === 0) throw parameterProblem('u32: abrupt end of input after location specifier');
      if (ct.ranges.length === 0) throw parameterProblem('u32: test ended with no value specified');
      tests.push(ct);
      if (tests.length > MAXSIZE) throw parameterProblem(`u32: at char ${i}: too many "&&"s`);
      return tests;
    }
    if (state === 0) {
      if (arg[i] === '=') {
        if (ct.ops.length === 0) throw parameterProblem(`u32: at char ${i}: location spec missing`);
        i++;
        state = 1;
        continue;
      }
      let op: U32Test['ops'][number]['op'] = 'start';
      if (ct.ops.length !== 0) {
        const c = arg[i];
        if (c === '&') op = '&';
        else if (c === '<') {
          if (arg[++i] !== '<') throw parameterProblem(`u32: at char ${i}: a second '<' was expected`);
          op = '<<';
        } else if (c === '>') {
          if (arg[++i] !== '>') throw parameterProblem(`u32: at char ${i}: a second '>' was expected`);
          op = '>>';
        } else if (c === '@') op = '@';
        else throw parameterProblem(`u32: at char ${i}: operator expected`);
        i++;
      }
      ct.ops.push({ op, number: number() });
      if (ct.ops.length > MAXSIZE) throw parameterProblem(`u32: at char ${i}: too many operators`);
    } else if (arg[i] === '&') {
      if (arg[++i] !== '&') throw parameterProblem(`u32: at char ${i}: a second '&' was expected`);
      if (ct.ranges.length === 0) throw parameterProblem(`u32: at char ${i}: value spec missing`);
      tests.push(ct);
      ct = { ops: [], ranges: [] };
      if (tests.length > MAXSIZE) throw parameterProblem(`u32: at char ${i}: too many "&&"s`);
      i++;
      state = 0;
    } else {
      if (ct.ranges.length > 0) {
        if (arg[i] !== ',') throw parameterProblem(`u32: at char ${i}: expected "," or "&&"`);
        i++;
      }
      const min = number();
      while (isSpace(arg[i])) i++;
      let max = min;
      if (arg[i] === ':') {
        i++;
        max = number();
      }
      ct.ranges.push([min, max]);
      if (ct.ranges.length > MAXSIZE) throw parameterProblem(`u32: at char ${i}: too many ","s`);
    }
  }
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

/** u32_dump(). */
function dump(tests: U32Test[]): string {
  return (
    '"' +
    tests
      .map(
        (t) =>
          t.ops.map((o, k) => (k === 0 ? '' : o.op) + hex(o.number)).join('') +
          '=' +
          t.ranges.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}:${hex(b)}`)).join(','),
      )
      .join('&&') +
    '"'
  );
}

export const u32: MatchModule<U32Data> = {
  name: 'u32',
  options: [{ name: 'u32', args: 1, invertible: true }],
  init: () => ({ tests: [] }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'u32', o, inv, true);
    d.tests = parseTests(a[0] ?? '');
    if (inv) d.invert = true;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('u32', [{ name: 'u32', mand: true }], d.seen);
    // The kernel's u32_mt_checkentry() refuses shift counts of 32 and more.
    if (d.tests.some((t) => t.ops.some((o) => (o.op === '<<' || o.op === '>>') && o.number >= 32))) throw new KernelRejects(ctx.chain, 'Invalid argument');
  },
  print: (d) => `u32${d.invert ? ' !' : ''} ${dump(d.tests)}`,
  save: (d) => `${d.invert ? '! ' : ''}--u32 ${dump(d.tests)}`,
  equal: (a, b) => u32.save(a) === u32.save(b),
  compile: (d): CompiledMatch => ({ residual: [{ kind: 'u32', tests: d.tests.map((t) => ({ ops: t.ops.map((o) => ({ ...o })), ranges: t.ranges.map(([x, y]) => [x, y] as [number, number]) })), invert: !!d.invert }] }),
};

export const U32_OPS = OPS;
