// The compiled filter table (TableSpec) of the persisted ruleset, kept beside it so that the
// next command can derive its spec incrementally (classifier/incremental.ts) instead of
// compiling 10k rules again:
//   <stateDir>/filter.spec = u32 header length, header JSON (tag, chains, the rare actions and
//   residual checks, interface entries), padding to 4 bytes, then one u32 blob holding the
//   rules (counter id, action and residual codes), every index vector, key→class table and
//   address LPM entry.
// The file is only a cache: it names the `tag` that ruleset.json records when it is written
// after it; a file whose tag differs (a crash between the two writes, an older build, garbage)
// is ignored and the table compiled in full.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FieldName } from '../classifier/fields.ts';
import type { FieldSpec, RuleSpec, SpecAction, TableSpec } from '../classifier/spec.ts';
import type { ResidualCheck } from '../classifier/fields.ts';
import { recordNetns } from './gc.ts';

const FILE = 'filter.spec';
const VERSION = 2;

// Action codes; CODE_OTHER + k is header.actions[k].
const SIMPLE: readonly SpecAction[] = [Object.freeze({ kind: 'accept' }), Object.freeze({ kind: 'drop' }), Object.freeze({ kind: 'return' }), Object.freeze({ kind: 'next' })];
const CODE_OTHER = SIMPLE.length;
const NO_RULE = 0xffffffff;
const NO_RESIDUAL: ResidualCheck[] = Object.freeze([]) as unknown as ResidualCheck[];

type Ref = [offset: number, length: number];
interface FieldHeader {
  kind: FieldSpec['kind'];
  wildcard: Ref;
  /** Offsets of the classes (nclasses + 1 entries, relative to the blob). */
  classStarts: Ref;
  /** Array fields: key → class; address fields: (addr, len, class) triples. */
  keyToClass?: Ref;
  /** Interface fields. */
  entries?: unknown;
}
interface Header {
  version: number;
  tag: string;
  nrules: number;
  chains: TableSpec['chains'];
  /** Blob refs: counter id (NO_RULE: padding), action code, residual code (0 none, k + 1: residuals[k]) per index. */
  rules: { counter: Ref; action: Ref; residual: Ref };
  actions: SpecAction[];
  residuals: ResidualCheck[][];
  fields: Partial<Record<FieldName, FieldHeader>>;
  blobWords: number;
}

export function newSpecTag(): string {
  return randomBytes(8).toString('hex');
}

/** Writes spec under `tag` (temporary file, fsync, rename). */
export function saveSpec(dir: string, spec: TableSpec, tag: string): void {
  const parts: Uint32Array[] = [];
  let words = 0;
  const put = (v: Uint32Array): Ref => {
    parts.push(v);
    const ref: Ref = [words, v.length];
    words += v.length;
    return ref;
  };
  const n = spec.nrules;
  const counter = new Uint32Array(n).fill(NO_RULE);
  const action = new Uint32Array(n);
  const residual = new Uint32Array(n);
  const actions: SpecAction[] = [];
  const residuals: ResidualCheck[][] = [];
  for (let i = 0; i < n; i++) {
    const r = spec.rules[i];
    if (!r) continue;
    counter[i] = r.counterId;
    const k = r.action.kind;
    const simple = k === 'accept' ? 0 : k === 'drop' ? 1 : k === 'return' ? 2 : k === 'next' ? 3 : -1;
    action[i] = simple >= 0 ? simple : CODE_OTHER + actions.push(r.action) - 1;
    if (r.residual.length) residual[i] = residuals.push(r.residual);
  }
  const rules = { counter: put(counter), action: put(action), residual: put(residual) };
  const fields: Partial<Record<FieldName, FieldHeader>> = {};
  for (const [f, fs] of Object.entries(spec.fields) as Array<[FieldName, FieldSpec]>) {
    const wildcard = put(fs.wildcard);
    const starts = new Uint32Array(fs.classes.length + 1);
    const base = words + starts.length;
    let at = base;
    for (let c = 0; c < fs.classes.length; c++) {
      starts[c] = at;
      at += fs.classes[c].length;
    }
    starts[fs.classes.length] = at;
    const classStarts = put(starts);
    for (const c of fs.classes) put(c);
    const h: FieldHeader = { kind: fs.kind, wildcard, classStarts };
    if (fs.kind === 'array') h.keyToClass = put(fs.keyToClass);
    else if (fs.kind === 'lpm') {
      const e = new Uint32Array(3 * fs.entries.length);
      fs.entries.forEach((x, i) => {
        e[3 * i] = x.prefix.addr;
        e[3 * i + 1] = x.prefix.len;
        e[3 * i + 2] = x.cls;
      });
      h.keyToClass = put(e);
    } else h.entries = fs.entries;
    fields[f] = h;
  }
  const header: Header = { version: VERSION, tag, nrules: spec.nrules, chains: spec.chains, rules, actions, residuals, fields, blobWords: words };
  const json = Buffer.from(JSON.stringify(header));
  const headLen = 4 + json.length;
  const pad = (4 - (headLen % 4)) % 4;
  const out = Buffer.alloc(headLen + pad + words * 4);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  const blob = new Uint32Array(out.buffer, out.byteOffset + headLen + pad, words);
  let o = 0;
  for (const p of parts) {
    blob.set(p, o);
    o += p.length;
  }
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) recordNetns(dir);
  const tmp = join(dir, `${FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, out);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, FILE));
}

/** The spec saved under `tag`, or undefined (absent, another tag, unreadable). */
export function loadSpec(dir: string, tag: string): TableSpec | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(join(dir, FILE));
  } catch {
    return undefined;
  }
  try {
    const jsonLen = buf.readUInt32LE(0);
    const header = JSON.parse(buf.toString('utf8', 4, 4 + jsonLen)) as Header;
    if (header.version !== VERSION || header.tag !== tag) return undefined;
    const headLen = 4 + jsonLen;
    const start = headLen + ((4 - (headLen % 4)) % 4);
    if (buf.length !== start + header.blobWords * 4) return undefined;
    // Aligned copy (a Buffer's offset in its ArrayBuffer need not be a multiple of 4).
    const blob = new Uint32Array(header.blobWords);
    new Uint8Array(blob.buffer).set(buf.subarray(start));
    const view = (r: Ref): Uint32Array => blob.subarray(r[0], r[0] + r[1]);
    const counter = view(header.rules.counter);
    const action = view(header.rules.action);
    const residual = view(header.rules.residual);
    const rules: Array<RuleSpec | null> = new Array(header.nrules);
    for (let i = 0; i < header.nrules; i++) {
      if (counter[i] === NO_RULE) {
        rules[i] = null;
        continue;
      }
      const a = action[i];
      rules[i] = {
        counterId: counter[i],
        action: a < CODE_OTHER ? SIMPLE[a] : header.actions[a - CODE_OTHER],
        residual: residual[i] === 0 ? NO_RESIDUAL : header.residuals[residual[i] - 1],
      };
    }
    const fields: TableSpec['fields'] = {};
    for (const [f, h] of Object.entries(header.fields) as Array<[FieldName, FieldHeader]>) {
      const starts = view(h.classStarts);
      const classes: Uint32Array[] = [];
      for (let c = 0; c + 1 < starts.length; c++) classes.push(blob.subarray(starts[c], starts[c + 1]));
      const wildcard = view(h.wildcard);
      if (h.kind === 'array') fields[f] = { kind: 'array', wildcard, classes, keyToClass: view(h.keyToClass!) };
      else if (h.kind === 'lpm') {
        const e = view(h.keyToClass!);
        const entries: Extract<FieldSpec, { kind: 'lpm' }>['entries'] = [];
        for (let i = 0; i < e.length; i += 3) entries.push({ prefix: { addr: e[i], len: e[i + 1] }, cls: e[i + 2] });
        fields[f] = { kind: 'lpm', wildcard, classes, entries };
      }
      else fields[f] = { kind: 'iface', wildcard, classes, entries: h.entries as Extract<FieldSpec, { kind: 'iface' }>['entries'] };
    }
    return { nrules: header.nrules, chains: header.chains, rules, fields };
  } catch {
    return undefined;
  }
}
