// Measurement (not a test): the npm `bitset` package vs plain Uint32Array words vs the dense
// member array that classes.ts uses, for the two set operations the classifier performs.
//   npx tsx bench/bitset.ts
//
// 1. Class building (classes.ts): a sweep toggles rules in and out of the active set and
//    materialises the set as a sorted index list whenever it is new. Operations: toggle, snapshot.
// 2. Lookup bitmaps (lookup.ts): wildcard ∪ class as a word bitmap, then AND across fields.
//
// Results on the dev VM (2 vCPU shared with other jobs, Node 20; ms for 100k toggles with a
// snapshot every 10, i.e. 10k materialised sets of `window` members):
//   rules / window      bitset   u32 words   dense+sort   hybrid (kept)
//   10k / 50               118        67           96          58
//   10k / 2000             835       523         5542         461
//   10k / 5000             556       644         9421         669
//   100k / 50              725       425          160         206
//   100k / 2000           2413       926         6230         847
//   100k / 50000         19494      5240       (minutes)       6194
// AND of 5 bitmaps built from index lists: 10k rules 41 ms bitset vs 29 ms u32; 100k 42 vs 15.
// Why: BitSet.toArray() walks every word and returns a JS number[] (allocation per snapshot);
// set()/and() go through generic growable storage. V8's typed-array sort is slow for large
// sets (~0.25 µs/element at 2k), so dense+sort only wins for sets much smaller than the word
// count; a word scan wins otherwise. Kept: the hybrid (dense array for O(1) toggles and small
// snapshots, a u32 membership bitmap for large ones; crossover size · 8 ≈ words) in
// classes.ts, and plain Uint32Array bitmaps in lookup.ts. The `bitset` package is not used in
// product code (it was never faster here, and the BPF encoder needs raw words anyway).
import BitSet from 'bitset';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function time(label: string, f: () => number): void {
  const t0 = performance.now();
  const check = f();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(9)} ms  (check ${check})`);
}

export function benchSweep(nrules: number, toggles: number, snapshotEvery: number, window: number): void {
  // Toggle script like a sweep: a sliding window of `window` active rules (random rule ids):
  // each step adds one rule and removes the one that entered `window` steps earlier.
  const r = rng(1);
  const perm = new Uint32Array(nrules);
  for (let i = 0; i < nrules; i++) perm[i] = i;
  for (let i = nrules - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const ops = new Uint32Array(toggles);
  for (let i = 0; i < toggles; i += 2) {
    const step = i >>> 1;
    ops[i] = perm[step % nrules];
    ops[i + 1] = step >= window ? perm[(step - window) % nrules] : perm[(nrules - 1 - step) % nrules];
  }
  console.log(`-- sweep: ${nrules} rules, ${toggles} toggles, active window ${window}, snapshot every ${snapshotEvery}`);

  time('bitset (set/clear bit, toArray snapshot)', () => {
    const bs = new BitSet();
    let sum = 0;
    for (let i = 0; i < toggles; i++) {
      const x = ops[i];
      bs.set(x, bs.get(x) ? 0 : 1);
      if (i % snapshotEvery === 0) sum += Uint32Array.from(bs.toArray()).length;
    }
    return sum;
  });

  time('Uint32Array words (scan snapshot)', () => {
    const words = new Uint32Array((nrules + 31) >>> 5);
    const out = new Uint32Array(nrules);
    let sum = 0;
    for (let i = 0; i < toggles; i++) {
      const x = ops[i];
      words[x >>> 5] ^= 1 << (x & 31);
      if (i % snapshotEvery === 0) {
        let n = 0;
        for (let w = 0; w < words.length; w++) {
          let v = words[w];
          while (v !== 0) {
            const low = v & -v;
            out[n++] = (w << 5) + 31 - Math.clz32(low);
            v ^= low;
          }
        }
        sum += out.slice(0, n).length;
      }
    }
    return sum;
  });

  time('hybrid (classes.ts: dense+sort or word scan)', () => {
    const pos = new Int32Array(nrules).fill(-1);
    const dense = new Uint32Array(nrules);
    const words = new Uint32Array((nrules + 31) >>> 5);
    const out = new Uint32Array(nrules);
    let size = 0;
    let sum = 0;
    for (let i = 0; i < toggles; i++) {
      const x = ops[i];
      words[x >>> 5] ^= 1 << (x & 31);
      if (pos[x] < 0) {
        pos[x] = size;
        dense[size++] = x;
      } else {
        const p = pos[x];
        const last = dense[--size];
        dense[p] = last;
        pos[last] = p;
        pos[x] = -1;
      }
      if (i % snapshotEvery === 0) {
        if (size * 8 < words.length) sum += dense.slice(0, size).sort().length;
        else {
          let n = 0;
          for (let w = 0; w < words.length; w++) {
            let v = words[w];
            while (v !== 0) {
              const low = v & -v;
              out[n++] = (w << 5) + 31 - Math.clz32(low);
              v ^= low;
            }
          }
          sum += out.slice(0, n).length;
        }
      }
    }
    return sum;
  });

  if (window > 5_000) return; // dense+sort alone takes minutes here
  time('dense array + position index (copy, sort)', () => {
    const pos = new Int32Array(nrules).fill(-1);
    const dense = new Uint32Array(nrules);
    let size = 0;
    let sum = 0;
    for (let i = 0; i < toggles; i++) {
      const x = ops[i];
      if (pos[x] < 0) {
        pos[x] = size;
        dense[size++] = x;
      } else {
        const p = pos[x];
        const last = dense[--size];
        dense[p] = last;
        pos[last] = p;
        pos[x] = -1;
      }
      if (i % snapshotEvery === 0) sum += dense.slice(0, size).sort().length;
    }
    return sum;
  });
}

export function benchBitmaps(nrules: number, fields: number, membersPerField: number): void {
  const r = rng(2);
  const lists = Array.from({ length: fields }, () => {
    const a = new Uint32Array(membersPerField);
    for (let i = 0; i < membersPerField; i++) a[i] = Math.floor(r() * nrules);
    return a.sort();
  });
  console.log(`-- bitmaps: ${nrules} rules, AND of ${fields} fields of ${membersPerField} members`);
  time('bitset (set per member, and)', () => {
    let acc: ReturnType<typeof BitSet.prototype.clone> | undefined;
    for (const l of lists) {
      const bs = new BitSet();
      for (const i of l) bs.set(i, 1);
      acc = acc ? acc.and(bs) : bs;
    }
    return acc!.lsb();
  });
  time('Uint32Array words (set per member, AND)', () => {
    const words = (nrules + 31) >>> 5;
    let acc: Uint32Array | undefined;
    for (const l of lists) {
      const b = new Uint32Array(words);
      for (const i of l) b[i >>> 5] |= 1 << (i & 31);
      if (!acc) acc = b;
      else for (let w = 0; w < words; w++) acc[w] &= b[w];
    }
    for (let w = 0; w < words; w++) if (acc![w]) return (w << 5) + 31 - Math.clz32(acc![w] & -acc![w]);
    return -1;
  });
}

const isMain = process.argv[1]?.endsWith('bitset.ts');
if (isMain) {
  for (const n of [10_000, 100_000]) for (const w of [50, 2_000, n >>> 1]) benchSweep(n, 100_000, 10, w);
  benchBitmaps(10_000, 5, 9_000);
  benchBitmaps(100_000, 5, 90_000);
}
