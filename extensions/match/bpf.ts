// bpf match, revision 1 (libxt_bpf.c): a classic BPF program (--bytecode) or a pinned eBPF
// object (--object-pinned). Parsed, listed and saved like iptables; the datapath does not run
// per-rule programs, so rules using it are refused. (iptables opens a pinned object while
// parsing and fails with "bpf: failed to get bpf object" when it cannot; this pure core does
// not touch bpffs, so such a rule reaches the refusal instead.)
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { unsupported, x6Seen } from '../lib.ts';

/** XT_BPF_MAX_NUM_INSTR */
const MAX_INSTR = 64;

export interface BpfData {
  code?: Array<[number, number, number, number]>;
  pinned?: string;
  seen?: string[];
}

/** sscanf's %u family: optional whitespace and sign, decimal digits, wrapped to the width. */
const SCAN = /^[ \t\n\v\f\r]*([+-]?)(\d+)/;
function scanUnsigned(s: string, bits: number): { value: number; rest: string } | undefined {
  const m = SCAN.exec(s);
  if (!m) return undefined;
  let v = BigInt(m[2]!);
  if (m[1] === '-') v = -v;
  return { value: Number(BigInt.asUintN(bits, v)), rest: s.slice(m[0].length) };
}

function parseProgram(s: string): Array<[number, number, number, number]> {
  const head = scanUnsigned(s, 16);
  if (!head || head.rest[0] !== ',') throw parameterProblem('bpf: error parsing program length');
  const len = head.value;
  if (!len) throw parameterProblem('bpf: illegal zero length program');
  if (len > MAX_INSTR) throw parameterProblem('bpf: number of instructions exceeds maximum');
  const out: Array<[number, number, number, number]> = [];
  let at = s.indexOf(',');
  while (at >= 0 && at + 1 < s.length) {
    const token = s.slice(at + 1);
    if (out.length >= len) throw parameterProblem('bpf: real program length exceeds the encoded length parameter');
    const code = scanUnsigned(token, 16);
    const jt = code && scanUnsigned(code.rest, 8);
    const jf = jt && scanUnsigned(jt.rest, 8);
    const k = jf && scanUnsigned(jf.rest, 32);
    if (!k) throw parameterProblem(`bpf: error at instr ${out.length}`);
    out.push([code!.value, jt!.value, jf!.value, k.value]);
    at = s.indexOf(',', at + 1);
  }
  if (out.length !== len) throw parameterProblem('bpf: parsed program length is less than the encoded length parameter');
  return out;
}

const codeText = (code: Array<[number, number, number, number]>): string => code.map((i) => i.join(' ')).join(',');

export const bpf: MatchModule<BpfData> = {
  name: 'bpf',
  options: [
    { name: 'bytecode', args: 1, invertible: true },
    { name: 'object-pinned', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'bpf', o, inv, false);
    if (o === 'bytecode') {
      d.code = parseProgram(a[0]!);
      delete d.pinned;
    } else {
      // XTOPT_PUT into path[XT_BPF_PATH_MAX = 512].
      d.pinned = a[0]!.slice(0, 511);
      delete d.code;
    }
    return d;
  },
  finalCheck(d) {
    const n = (d.seen ?? []).filter((o) => o === 'bytecode' || o === 'object-pinned').length;
    if (n !== 1) throw parameterProblem('bpf: one of --bytecode or --pinned is required');
  },
  // bpf_print_code ends a bytecode listing with a NUL character, as iptables prints it.
  print: (d) => (d.code ? `match bpf ${codeText(d.code)}\0` : `match bpf pinned ${d.pinned}`),
  save: (d) => (d.code ? `--bytecode "${d.code.length},${codeText(d.code)}"` : `--object-pinned ${d.pinned}`),
  compile: () => unsupported('bpf: the datapath does not run per-rule BPF programs'),
};
