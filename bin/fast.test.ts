import { describe, expect, it } from 'vitest';
import { parseCommandLine, VERSION } from '../parser/command.ts';
import { FAST_VERSION, fastPath } from './fast.ts';

describe('entry fast path', () => {
  it('prints what the full parser prints', () => {
    expect(FAST_VERSION).toBe(VERSION);
    for (const argv of [['--version'], ['-V']]) {
      const r = parseCommandLine(argv, { program: 'iptables' });
      expect(r.kind).toBe('version');
      const text = (r as { text: string }).text + '\n';
      expect(fastPath('iptables', argv)).toBe(text);
      expect(fastPath('bpftables', argv)).toBe(text);
    }
    expect(fastPath('iptables-save', ['--version'])).toBeUndefined();
    expect(fastPath('pcn-iptables', ['--version'])).toBeUndefined();
    expect(fastPath('iptables', ['--version', '-n'])).toBeUndefined();
    expect(fastPath('iptables', ['-L'])).toBeUndefined();
  });
});
