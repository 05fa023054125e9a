#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2
// A small young generation: an import allocates many short-lived 10–100 KB strings, and V8's
// default 16 MB semi-spaces let them pile up (+30 MB RSS) for no measurable CPU gain.
// A fixed mmap threshold for glibc's malloc (other C libraries ignore the variable): each page of
// rows is a ~1.1 MB buffer, and once glibc frees one it raises its threshold past that size, so
// later pages came from its heap, whose top stayed high: queue mode's peak RSS drifted from
// 102–109 MB at 1M rows to 136–140 MB at 5M. Fixed at 128 KiB, large buffers are mapped and
// unmapped whole: 98–103 MB at 1M, 105 MB at 5M (README, Benchmark › Queue mode).
import { main } from '../dist/src/cli/main.js';
await main(process.argv);
