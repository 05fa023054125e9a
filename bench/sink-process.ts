import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { SinkFront } from './options.js';
import type { SinkReport } from './sink-server.js';

export interface SinkProcess {
  readonly url: string;
  report(): Promise<SinkReport>;
  stop(): Promise<void>;
}

const SINK_SCRIPT = new URL('./sink-server.js', import.meta.url);

/** Starts sink-server.js as a child and waits (at most 10 s) for its URL. */
export async function startSinkProcess(front: SinkFront, track: (child: ChildProcess) => void): Promise<SinkProcess> {
  const child = fork(SINK_SCRIPT, [front], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  const url = await nextMessage<{ url: string }>(child, 10_000, 'the sink to start');
  return {
    url: url.url,
    report() {
      const answer = nextMessage<SinkReport>(child, 5000, 'the sink to report its counts');
      child.send('counts');
      return answer;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.disconnect(); // the sink closes itself when its channel goes
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function nextMessage<T>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
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
      reject(new Error(`the sink exited (${code}) while waiting for ${what}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
