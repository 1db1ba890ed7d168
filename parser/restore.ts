// iptables-restore's file format, as xtables-restore.c (iptables 1.8.9, nft variant) reads it:
// lines as fgets returns them (with their '\n'), '#' comments, '*table', ':CHAIN POLICY [p:b]',
// 'COMMIT', and rule lines with an optional '[p:b]' prefix whose words go through the same
// command parser as the iptables command line (with "-t table" in front).
import { parameterProblem } from './errors.ts';

/**
 * add_param_to_argv: splits a rule line into argv words. Double quotes group (and may join
 * with adjacent text before them); inside quotes a backslash escapes the next character; a
 * closing quote ends the word even when text follows ('x"y z"w' → 'xy z', 'w'). An
 * unterminated quote runs to the end of the line, newline included.
 */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  if (line.indexOf('"') < 0) {
    // Fast path without quotes: words between ' ', '\t', '\n'; the length check applies to
    // words ended by a separator (the last word of an unterminated line is not checked).
    const n = line.length;
    let i = 0;
    for (;;) {
      let c = line.charCodeAt(i);
      while (i < n && (c === 32 || c === 9 || c === 10)) c = line.charCodeAt(++i);
      if (i >= n) return out;
      let j = i + 1;
      for (; j < n; j++) {
        c = line.charCodeAt(j);
        if (c === 32 || c === 9 || c === 10) break;
      }
      if (j < n && j - i > 1023) throw parameterProblem('Parameter too long!');
      out.push(line.slice(i, j));
      i = j;
    }
  }
  let quoteOpen = false;
  let escaped = false;
  let param = '';
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoteOpen) {
      if (escaped) {
        param += ch;
        has = true;
        escaped = false;
        continue;
      } else if (ch === '\\') {
        escaped = true;
        continue;
      } else if (ch === '"') {
        quoteOpen = false;
        // falls through to emit the word (even an empty one)
      } else {
        param += ch;
        has = true;
        continue;
      }
    } else if (ch === '"') {
      quoteOpen = true;
      continue;
    }
    if (ch === '"') {
      // closing quote: emit
    } else if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (!has && param.length === 0) continue;
    } else {
      param += ch;
      has = true;
      continue;
    }
    if (param.length > 1023) throw parameterProblem('Parameter too long!');
    out.push(param);
    param = '';
    has = false;
  }
  if (param.length) out.push(param);
  return out;
}

/**
 * tokenize_rule_counters: a leading "[pcnt:bcnt]". The reader's own messages carry no trailing
 * newline (iptables-nft 1.8.9 prints no blank line before "Error occurred at line").
 */
export function splitRuleCounters(line: string, lineNo: number): { rest: string; pcnt?: string; bcnt?: string } {
  if (line[0] !== '[') return { rest: line };
  const close = line.indexOf(']');
  if (close < 0) throw parameterProblem(`Bad line ${lineNo}: need ]`);
  // strtok(buffer+1, ":") then strtok(NULL, "]")
  let p = 1;
  while (line[p] === ':') p++;
  const colon = line.indexOf(':', p);
  const pEnd = colon < 0 ? line.length : colon;
  const pcnt = line.slice(p, pEnd);
  if (!pcnt.length) throw parameterProblem(`Bad line ${lineNo}: need :`);
  if (colon < 0) throw parameterProblem(`Bad line ${lineNo}: need ]`);
  let q = colon + 1;
  while (line[q] === ']') q++;
  const bEnd = line.indexOf(']', q);
  const bcnt = line.slice(q, bEnd < 0 ? line.length : bEnd);
  if (!bcnt.length) throw parameterProblem(`Bad line ${lineNo}: need ]`);
  return { rest: line.slice(close + 1), pcnt, bcnt };
}

/** strtok(s, " \t\n") words. */
export function strtokWords(s: string): string[] {
  return s.split(/[ \t\n]+/).filter((w) => w.length > 0);
}

/** Lines as fgets returns them: each with its '\n' except possibly the last. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) lines.push(text.slice(start));
      return lines;
    }
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/** parse_counters of a chain line: "[%llu:%llu]". */
export function parseChainCounters(s: string | undefined): { packets: bigint; bytes: bigint } | undefined {
  if (s === undefined) return undefined;
  const m = /^\[[ \t\n\v\f\r]*\+?([0-9]+):[ \t\n\v\f\r]*\+?([0-9]+)\]/.exec(s);
  if (!m) return undefined;
  const mod = 1n << 64n;
  return { packets: BigInt(m[1]!) % mod, bytes: BigInt(m[2]!) % mod };
}
