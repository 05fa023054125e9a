import { describe, expect, it } from 'vitest';
import { GroupPacker, MAX_ENTRIES, packGroups } from '../../src/queue/call-packer.js';
import { SQS_MAX_BYTES } from '../../src/queue/message-packer.js';

const sizes = (groups: { items: number[] }[]) => groups.map((g) => g.items);

describe('call packer (one rule for SendMessageBatch calls and rejects bodies)', () => {
  it('closes a group at maxItems', () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    const groups = packGroups(items, () => 1, MAX_ENTRIES, SQS_MAX_BYTES);
    expect(groups.map((g) => g.items.length)).toEqual([10, 10, 3]);
    expect(groups.flatMap((g) => g.items)).toEqual(items);
  });

  it('closes a group before the item that would pass maxBytes, and counts bytes', () => {
    const groups = packGroups([400, 400, 300, 500, 100], (b) => b, 10, 1000);
    expect(sizes(groups)).toEqual([
      [400, 400],
      [300, 500, 100],
    ]);
    expect(groups.map((g) => g.bytes)).toEqual([800, 900]);
  });

  it('fills a group exactly to maxBytes', () => {
    expect(sizes(packGroups([500, 500, 1], (b) => b, 10, 1000))).toEqual([[500, 500], [1]]);
  });

  it('gives an item larger than maxBytes a group of its own, never an empty group', () => {
    expect(sizes(packGroups([2000, 10, 3000], (b) => b, 10, 1000))).toEqual([[2000], [10], [3000]]);
    expect(packGroups([], () => 1, 10, 1000)).toEqual([]);
  });

  it('packs a stream the same way: closesOn, add, full, take', () => {
    const p = new GroupPacker<string>(2, 100);
    expect(p.closesOn(1000)).toBe(false);
    p.add('a', 60);
    expect(p.closesOn(41)).toBe(true);
    expect(p.closesOn(40)).toBe(false);
    p.add('b', 40);
    expect(p.full).toBe(true);
    expect(p.take()).toEqual({ items: ['a', 'b'], bytes: 100 });
    expect(p.size).toBe(0);
    expect(p.take()).toEqual({ items: [], bytes: 0 });
  });
});
