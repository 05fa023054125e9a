import { describe, expect, it } from 'vitest';
import { Watermark } from '../../src/checkpoint/watermark.js';

const r = (seq: number) => ({ seq, lastKey: [String((seq + 1) * 10)] });

describe('watermark', () => {
  it('advances only past a contiguous run of acknowledged batches', () => {
    const w = new Watermark(undefined);
    expect(w.ack(r(1))).toBe(false);
    expect(w.ack(r(2))).toBe(false);
    expect(w.key).toBeUndefined();
    expect(w.ack(r(0))).toBe(true);
    expect(w.key).toEqual(['30']);
    expect(w.waiting).toBe(0);
    w.ack(r(4));
    expect(w.key).toEqual(['30']);
    expect(w.waiting).toBe(1);
  });

  it('never moves past a batch still in flight, whatever the completion order', () => {
    const order = Array.from({ length: 200 }, (_, i) => i).sort(() => Math.random() - 0.5);
    const w = new Watermark(['0']);
    const acked = new Set<number>();
    for (const seq of order) {
      w.ack(r(seq));
      acked.add(seq);
      let contiguous = 0;
      while (acked.has(contiguous)) contiguous++;
      expect(w.key).toEqual(contiguous === 0 ? ['0'] : [String(contiguous * 10)]);
    }
  });
});
