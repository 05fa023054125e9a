import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Preloaded into every contender (`node --import …/rusage-reporter.js`): at exit, writes the
 * process's own resource usage to the file named by BENCH_RUSAGE_FILE. Measured from inside,
 * because the parent's view (wait4 on the whole child tree) would not separate the client from
 * npm or a shell, and every contender gets the same preload so they pay the same (tiny) cost.
 */
export interface RusageReport {
  /** Peak resident set size of this process in kilobytes. */
  readonly maxRSS: number;
  /** Microseconds. */
  readonly userCPUTime: number;
  readonly systemCPUTime: number;
}

const file = process.env.BENCH_RUSAGE_FILE;
if (file) {
  process.once('exit', () => {
    const { maxRSS, userCPUTime, systemCPUTime } = process.resourceUsage();
    const report: RusageReport = { maxRSS: ownPeakRss() ?? maxRSS, userCPUTime, systemCPUTime };
    writeFileSync(file, JSON.stringify(report));
  });
}

/**
 * On Linux, getrusage's ru_maxrss survives exec: a child forked from a 400 MB parent reports
 * at least 400 MB, whatever it used itself (the bench's parent is big when it hosts the
 * embedded database). VmHWM is the high-water mark of this process's own address space.
 */
function ownPeakRss(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // not Linux: ru_maxrss it is
  }
}
