#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2
// A small young generation: an import allocates many short-lived 10–100 KB strings, and V8's
// default 16 MB semi-spaces let them pile up (+30 MB RSS) for no measurable CPU gain.
// A fixed mmap threshold for glibc's malloc (other C libraries ignore the variable): buffers of
// ~1 MB (a page of rows, a request body) are mapped and unmapped whole. Left to itself glibc
// raises the threshold past that size at the first such buffer it frees, serves the later ones
// from its heap, and the heap's top stays wherever the peak left it: queue mode's peak RSS over
// 1M rows was 103–133 MB run to run, 98–103 MB with this; over 5M rows (pages reused) 136–141
// MB without, 101–102 MB with it (README, Benchmark › Queue mode). It costs 3–7 % of CPU there.
import { main } from '../dist/src/cli/main.js';
await main(process.argv);
