import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { CapacityModel } from '../../src/demo/sandbox/capacity-api.js';
import type { CapacityCommand, CapacityReport } from './capacity-server.js';

/** The capacity-model API in its own process (capacity-server.ts), seen from the bench. */
export interface CapacityProcess {
  readonly url: string;
  /** Sets the model and starts a fresh meter. */
  configure(model: CapacityModel): Promise<void>;
  /** Starts a fresh meter (the model stays). */
  reset(): Promise<void>;
  report(): Promise<CapacityReport>;
  stop(): Promise<void>;
}

const SCRIPT = new URL('./capacity-server.js', import.meta.url);

/** Starts the API and waits (at most 10 s) for its URL. */
export async function startCapacityProcess(track: (child: ChildProcess) => void): Promise<CapacityProcess> {
  const child = fork(SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  const { url } = await reply<{ url: string }>(child, 10_000, 'the capacity API to start');
  const ask = <T>(cmd: CapacityCommand, what: string): Promise<T> => {
    const answer = reply<T>(child, 5000, what);
    child.send(cmd);
    return answer;
  };
  return {
    url,
    configure: async (model) => void (await ask({ type: 'configure', model }, 'the capacity API to configure')),
    reset: async () => void (await ask({ type: 'reset' }, 'the capacity API to reset')),
    report: () => ask<CapacityReport>({ type: 'report' }, 'the capacity API to report'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.disconnect(); // the server closes itself when its channel goes
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child's next message, or an error if it exits or stays silent for `timeoutMs`. */
function reply<T>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      done();
      resolve(m as T);
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`the capacity API exited (${code}) while waiting for ${what}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
