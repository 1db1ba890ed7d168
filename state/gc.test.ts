import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectDeadNamespaces, currentNetnsInode, liveNetnsInodes } from './gc.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function layout(entries: Record<string, string | undefined>): { stateRoot: string; pinRoot: string } {
  const base = mkdtempSync(join(tmpdir(), 'bpft-gc-'));
  dirs.push(base);
  const stateRoot = join(base, 'run');
  const pinRoot = join(base, 'pins');
  for (const [cookie, ino] of Object.entries(entries)) {
    mkdirSync(join(stateRoot, cookie), { recursive: true });
    mkdirSync(join(pinRoot, cookie), { recursive: true });
    writeFileSync(join(stateRoot, cookie, 'ruleset.json'), '{"tables":{}}');
    writeFileSync(join(pinRoot, cookie, 'meta'), '');
    writeFileSync(join(stateRoot, `${cookie}.lock`), '');
    if (ino !== undefined) writeFileSync(join(stateRoot, cookie, 'netns'), `${ino}\n`);
  }
  return { stateRoot, pinRoot };
}

describe('collectDeadNamespaces', () => {
  it('removes state, pins and lock of recorded namespaces whose inode nothing holds', () => {
    const t = layout({ '11': '900', '12': '901', '13': undefined, '14': '902' });
    const dead = collectDeadNamespaces({ ...t, self: '14' }, new Set(['901']));
    expect(dead).toEqual(['11']);
    expect(existsSync(join(t.stateRoot, '11'))).toBe(false);
    expect(existsSync(join(t.pinRoot, '11'))).toBe(false);
    expect(existsSync(join(t.stateRoot, '11.lock'))).toBe(false);
    // live (12), unrecorded (13) and self (14, even though its inode is not in the set) stay
    for (const keep of ['12', '13', '14']) {
      expect(existsSync(join(t.stateRoot, keep, 'ruleset.json'))).toBe(true);
      expect(existsSync(join(t.pinRoot, keep, 'meta'))).toBe(true);
      expect(existsSync(join(t.stateRoot, `${keep}.lock`))).toBe(true);
    }
  });

  it('removes lock files left without a state directory once their recorded namespace is dead', () => {
    const t = layout({ '31': '960' });
    writeFileSync(join(t.stateRoot, '32.lock'), '961\n'); // torn down, namespace dead
    writeFileSync(join(t.stateRoot, '33.lock'), '962\n'); // torn down, namespace alive
    writeFileSync(join(t.stateRoot, '34.lock'), ''); // unstamped (older build): kept
    writeFileSync(join(t.stateRoot, '35.lock'), '963\n'); // self
    collectDeadNamespaces({ ...t, self: '35' }, new Set(['960', '962']));
    expect(existsSync(join(t.stateRoot, '32.lock'))).toBe(false);
    for (const keep of ['31', '33', '34', '35']) expect(existsSync(join(t.stateRoot, `${keep}.lock`))).toBe(true);
  });

  it('collects nothing when the holders could not all be seen', () => {
    const t = layout({ '21': '950' });
    expect(collectDeadNamespaces({ ...t, self: '1' }, null)).toEqual([]);
    expect(existsSync(join(t.stateRoot, '21'))).toBe(true);
  });
});

describe('liveNetnsInodes', () => {
  it("includes this process's own namespace", () => {
    const live = liveNetnsInodes();
    expect(live).toBeDefined();
    expect(live!.has(currentNetnsInode())).toBe(true);
  });
});
