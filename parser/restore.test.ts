import { describe, expect, it } from 'vitest';
import { parseChainCounters, splitLines, splitRuleCounters, splitRuleLine } from './restore.ts';

describe('splitRuleLine (add_param_to_argv)', () => {
  it('splits on blanks and groups quotes', () => {
    expect(splitRuleLine('-A INPUT  -m comment --comment "a b"\n')).toEqual(['-A', 'INPUT', '-m', 'comment', '--comment', 'a b']);
  });
  it('handles escapes inside quotes only', () => {
    expect(splitRuleLine('"a\\"b\\\\c" x\\y')).toEqual(['a"b\\c', 'x\\y']);
  });
  it('ends a word at the closing quote and keeps empty quoted words', () => {
    expect(splitRuleLine('x"y z"w ""')).toEqual(['xy z', 'w', '']);
  });
  it('runs an unterminated quote to the end of the line', () => {
    expect(splitRuleLine('--comment "abc\n')).toEqual(['--comment', 'abc\n']);
  });
});

describe('restore lines', () => {
  it('keeps newlines as fgets does', () => {
    expect(splitLines('a\nb')).toEqual(['a\n', 'b']);
  });
  it('reads rule counters', () => {
    expect(splitRuleCounters('[1:2] -A X', 1)).toEqual({ rest: ' -A X', pcnt: '1', bcnt: '2' });
    expect(() => splitRuleCounters('[1:2 -A X', 3)).toThrow('Bad line 3: need ]');
  });
  it('reads chain counters', () => {
    expect(parseChainCounters('[5:6]')).toEqual({ packets: 5n, bytes: 6n });
    expect(parseChainCounters('5:6')).toBeUndefined();
  });
});
