import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DryRunSink } from '../../src/sink/dry-run-sink.js';
import { LazyBatch } from '../../src/source/batch.js';

const root = new URL('../../', import.meta.url);

async function* oneBatch(rows: string[]) {
  yield new LazyBatch(0, rows.length, ['1'], [String(rows.length)], 'k', { rows });
}

describe('sinks describe themselves', () => {
  it('the core and the summary never ask a sink what it is', async () => {
    const found: string[] = [];
    for (const file of ['src/run-import.ts', 'src/pipeline.ts', 'src/cli/summary.ts', 'src/run-replay.ts']) {
      const text = await readFile(new URL(file, root), 'utf8');
      const downcast = /instanceof \w*Sink\b|'\w+' in sink\b|\bsink\.(?:client|counters|firstBody)\b/g;
      for (const m of text.matchAll(downcast)) found.push(`${file}: ${m[0]}`);
    }
    expect(found).toEqual([]);
  });

  it('dry run: the first body on the summary (cut at 400 characters), whole in the JSON', async () => {
    const sink = new DryRunSink(10);
    expect(sink.report()).toEqual({ verb: 'would be sent', via: '', lines: [], json: {} });
    const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i + 1, text: 'x'.repeat(60) }));
    const signal = new AbortController().signal;
    for await (const r of sink.deliver(oneBatch(rows), { signal })) {
      expect(r).toMatchObject({ delivered: 10, rejected: [], skipped: 0 });
    }
    const body = `[${rows.join(',')}]`;
    const report = sink.report();
    expect(report.json).toEqual({ sampleBody: body });
    expect(report.lines).toEqual([`  first request body: ${body.slice(0, 400)}…`]);
  });
});
