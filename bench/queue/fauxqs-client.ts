import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { FauxqsRequest, Settled } from './fauxqs-process.js';

export type { Settled } from './fauxqs-process.js';

/** The bench's handle on fauxqs-process.js: a fresh queue per run, settle it after, its CPU. */
export interface FauxqsProcess {
  readonly endpoint: string;
  createQueue(name: string): Promise<string>;
  settle(url: string, messages: number, timeoutMs: number): Promise<Settled>;
  usage(): Promise<{ cpuMicros: number; rssMB: number }>;
  stop(): Promise<void>;
}

const SCRIPT = new URL('./fauxqs-process.js', import.meta.url);

type Request = FauxqsRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Forks the emulator and waits (at most 15 s) for its endpoint. */
export async function startFauxqsProcess(track: (child: ChildProcess) => void): Promise<FauxqsProcess> {
  // --expose-gc: it collects after deleting each run's queue, so the next run starts lean.
  const child = fork(SCRIPT, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  track(child);
  const pending = new Map<
    number,
    { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  let exited: Error | undefined;
  const started = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fauxqs did not start within 15 s')), 15_000);
    child.on('message', (m: Record<string, unknown>) => {
      if (typeof m.endpoint === 'string') {
        clearTimeout(timer);
        resolve(m.endpoint);
        return;
      }
      const p = pending.get(m.id as number);
      if (!p) return;
      pending.delete(m.id as number);
      clearTimeout(p.timer);
      if (typeof m.error === 'string') p.reject(new Error(`fauxqs: ${m.error}`));
      else p.resolve(m);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      exited = new Error(`fauxqs exited (${code ?? signal})`);
      reject(exited);
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(exited);
      }
      pending.clear();
    });
  });
  const endpoint = await started;
  let ids = 0;
  const ask = (req: Request, timeoutMs: number): Promise<Record<string, unknown>> => {
    if (exited) return Promise.reject(exited);
    const id = ++ids;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`fauxqs: no answer to ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ ...req, id });
    });
  };
  return {
    endpoint,
    createQueue: async (name) => (await ask({ op: 'create', name }, 10_000)).url as string,
    settle: async (url, messages, timeoutMs) =>
      (await ask({ op: 'settle', url, messages, timeoutMs }, timeoutMs + 30_000)).settled as Settled,
    usage: async () => (await ask({ op: 'usage' }, 10_000)) as unknown as { cpuMicros: number; rssMB: number },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
