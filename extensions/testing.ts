// A minimal stand-in for the front end, for the extensions' own tests: it walks rule argv with
// the modules' option tables (`!`, arity, `-p`, `-m`, `-j`, implicit protocol matches) and
// renders the -S line and the -L extension text the way iptables composes them. The real
// front end lives in parser/; this exists so extension tests do not depend on it.
import { XtablesError, parameterProblem } from '../parser/errors.ts';
import type { CompiledMatch } from '../classifier/fields.ts';
import type { ProtoMatch, Rule, TableName } from '../ruleset/types.ts';
import { findMatch, findTarget } from './index.ts';
import type { DatapathAction, MatchModule, OptionSpec, ParseContext, TargetModule } from './types.ts';
import { PROTO_BY_NUMBER, PROTO_NAMES } from './protocols.ts';

export interface ParsedRule {
  proto?: ProtoMatch;
  matches: Array<{ mod: MatchModule<any>; data: any }>;
  target?: { mod: TargetModule<any>; data: any } | { verdict: string };
}

function findOption(options: readonly OptionSpec[], name: string): OptionSpec | undefined {
  return options.find((o) => o.name === name || o.aliases?.includes(name));
}

/** Parses `[-p P] [-m name opts]* [-j TARGET opts]` for table/chain; throws XtablesError. */
export function parseRuleForTest(argv: string[], table: TableName = 'filter', chain = 'INPUT'): ParsedRule {
  const out: ParsedRule = { matches: [] };
  const rule: Rule = { matches: [], counters: { packets: 0n, bytes: 0n } };
  const ctx = (): ParseContext => ({ table, chain, proto: out.proto, rule });
  let invert = false;
  let current: { mod: MatchModule<any> | TargetModule<any>; data: any } | undefined;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '!') {
      invert = true;
      continue;
    }
    if (w === '-p') {
      const p = argv[++i]!;
      const n = /^\d+$/.test(p) ? Number(p) : p === 'all' ? 0 : PROTO_NAMES.get(p.toLowerCase());
      if (n === undefined) throw parameterProblem(`unknown protocol "${p}" specified`);
      out.proto = { proto: n, invert };
      rule.proto = out.proto;
      invert = false;
      continue;
    }
    if (w === '-m') {
      const mod = findMatch(argv[++i]!);
      if (!mod) throw parameterProblem(`Couldn't load match \`${argv[i]}':No such file or directory\n`);
      current = { mod, data: mod.init(ctx()) };
      out.matches.push(current as { mod: MatchModule<any>; data: any });
      continue;
    }
    if (w === '-j') {
      const name = argv[++i]!;
      if (['ACCEPT', 'DROP', 'RETURN'].includes(name)) {
        out.target = { verdict: name };
        current = undefined;
        continue;
      }
      const mod = findTarget(name);
      if (!mod) throw parameterProblem(`Couldn't load target \`${name}':No such file or directory\n`);
      current = { mod, data: mod.init(ctx()) };
      out.target = current as { mod: TargetModule<any>; data: any };
      continue;
    }
    if (w.startsWith('--')) {
      const name = w.slice(2);
      let spec = current ? findOption(current.mod.options, name) : undefined;
      if (!spec) {
        // Implicit protocol match (`-p tcp --dport 80`), as iptables loads it.
        const pname = out.proto && !out.proto.invert ? PROTO_BY_NUMBER.get(out.proto.proto) : undefined;
        const pm = pname ? findMatch(pname) : undefined;
        const already = out.matches.find((m) => m.mod === pm);
        if (pm && !already && findOption(pm.options, name)) {
          current = { mod: pm, data: pm.init(ctx()) };
          out.matches.push(current as { mod: MatchModule<any>; data: any });
          spec = findOption(pm.options, name);
        }
      }
      if (!spec || !current) throw parameterProblem(`unknown option "${w}"`);
      const args: string[] = [];
      const n = spec.args === 'optional' ? (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-') ? 1 : 0) : spec.args;
      for (let k = 0; k < n; k++) {
        const a = argv[++i];
        if (a === undefined) throw parameterProblem(`option "${w}" requires an argument`);
        args.push(a);
      }
      if (invert && !spec.invertible) throw parameterProblem(`unexpected ! flag before --${spec.name}`);
      current.data = current.mod.parse(current.data, spec.name, args, invert, ctx());
      invert = false;
      continue;
    }
    throw parameterProblem(`Bad argument \`${w}'`);
  }
  for (const m of out.matches) m.mod.finalCheck?.(m.data, ctx());
  if (out.target && 'mod' in out.target) out.target.mod.finalCheck?.(out.target.data, ctx());
  return out;
}

/** The -S / iptables-save rule text after `-A CHAIN`. */
export function saveRule(r: ParsedRule): string {
  let s = '';
  if (r.proto && (r.proto.proto !== 0 || r.proto.invert)) s += `${r.proto.invert ? ' !' : ''} -p ${PROTO_BY_NUMBER.get(r.proto.proto) ?? r.proto.proto}`;
  for (const m of r.matches) {
    const t = m.mod.save(m.data);
    s += ` -m ${m.mod.name}${t ? ` ${t}` : ''}`;
  }
  if (r.target) {
    if ('verdict' in r.target) s += ` -j ${r.target.verdict}`;
    else {
      const t = r.target.mod.save(r.target.data);
      s += ` -j ${r.target.mod.name}${t ? ` ${t}` : ''}`;
    }
  }
  return s.trim();
}

/** The -L text after the destination column. */
export function printRule(r: ParsedRule, numeric: boolean): string {
  const parts: string[] = [];
  for (const m of r.matches) parts.push(m.mod.print(m.data, { numeric }));
  if (r.target && 'mod' in r.target) parts.push(r.target.mod.print(r.target.data, { numeric }));
  return parts.filter((p) => p !== '').join(' ');
}

export function compileRule(r: ParsedRule): { matches: CompiledMatch[]; target?: DatapathAction } {
  const rule: Rule = { proto: r.proto, matches: r.matches.map((m) => ({ name: m.mod.name, data: m.data })), counters: { packets: 0n, bytes: 0n } };
  return {
    matches: r.matches.map((m) => m.mod.compile(m.data, rule)),
    target: r.target && 'mod' in r.target ? r.target.mod.compile(r.target.data, rule) : undefined,
  };
}

/** Error text as iptables prints it (without the program prefix and the try-help line). */
export function errorText(e: unknown): { code: number; message: string } {
  if (e instanceof XtablesError) return { code: e.exitCode, message: e.message };
  throw e;
}

/** Splits a rule string as a shell would for the simple quoting used in test data. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      cur += s.slice(i + 1, j);
      i = j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\' || s[j + 1] === '$' || s[j + 1] === '`')) j++;
        cur += s[j];
      }
      i = j;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}
