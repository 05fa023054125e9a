/**
 * The first SIGINT/SIGTERM asks for a graceful stop (stop reading, let requests in flight
 * finish, write the checkpoint); a second one aborts what is in flight. Either way the command
 * decides the exit code from `received`.
 */
export interface StopSignals {
  readonly signal: AbortSignal;
  readonly hardSignal: AbortSignal;
  readonly received: () => NodeJS.Signals | undefined;
  readonly dispose: () => void;
}

/** The first stop signal this process received, for an error that a stop caused (exit 130/143, not 2). */
let firstReceived: NodeJS.Signals | undefined;
export const stopSignalReceived = (): NodeJS.Signals | undefined => firstReceived;

export function trapStopSignals(onFirst?: (sig: NodeJS.Signals) => void): StopSignals {
  const soft = new AbortController();
  const hard = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (!received) {
      received = sig;
      firstReceived ??= sig;
      soft.abort();
      onFirst?.(sig);
    } else hard.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: soft.signal,
    hardSignal: hard.signal,
    received: () => received,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
