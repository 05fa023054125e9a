import type { Dispatcher } from 'undici';

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The start of the body of an answer that is not 2xx (for the failed-rows file); '' otherwise. */
  readonly text: string;
}

const KEEP_BYTES = 1024;

/**
 * An attempt that got no complete answer within `--timeout`. undici's headersTimeout and
 * bodyTimeout restart on every byte, so an API that drips a byte every few hundred ms would hold
 * a lane forever; this bounds the whole attempt (connect, send, headers, body).
 */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  readonly code = 'REQUEST_DEADLINE';
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms (--timeout)`);
  }
}

/**
 * One request through undici's dispatch API. `client.request()` wraps every answer in a
 * Readable stream and a few promises; at batch size 1 that is a measurable share of the
 * ~35 µs of CPU a request costs here (bare `request()` 20 µs, `dispatch()` 17 µs). The body of
 * a 2xx answer is dropped as it arrives; of any other, the first KiB is kept as the error text.
 *
 * `deadlineMs` bounds the whole attempt with one plain timer that aborts the request's own
 * controller: cheaper than an `AbortSignal.timeout` combined with the stop signal by
 * `AbortSignal.any` per request (two signals and their listeners at ~30 µs of CPU per request).
 */
export function dispatchOnce(
  client: Dispatcher,
  request: { path: string; method: string; headers: string[]; body: string | Uint8Array },
  signal?: AbortSignal,
  deadlineMs?: number,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let kept: Buffer[] | undefined;
    let keptBytes = 0;
    let onAbort: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let controller: { abort(reason?: Error): void } | undefined;
    let late: DeadlineError | undefined;
    if (deadlineMs !== undefined) {
      timer = setTimeout(() => {
        late = new DeadlineError(deadlineMs);
        if (controller) controller.abort(late);
      }, deadlineMs);
    }
    const done = () => {
      if (timer) clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    };
    client.dispatch(
      {
        path: request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
      },
      {
        onRequestStart(c) {
          controller = c;
          if (late) return c.abort(late); // the deadline passed while waiting for the connection
          if (!signal) return;
          if (signal.aborted) return c.abort(signal.reason);
          onAbort = () => c.abort(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        },
        onResponseStart(_controller, statusCode, responseHeaders) {
          if (statusCode < 200) return; // 1xx: the real answer follows
          status = statusCode;
          headers = responseHeaders;
          kept = statusCode >= 300 ? [] : undefined;
        },
        onResponseData(_controller, chunk) {
          if (kept && keptBytes < KEEP_BYTES) {
            kept.push(chunk);
            keptBytes += chunk.length;
          }
        },
        onResponseEnd() {
          done();
          resolve({ status, headers, text: kept ? Buffer.concat(kept).subarray(0, KEEP_BYTES).toString('utf8') : '' });
        },
        onResponseError(_controller, error) {
          done();
          reject(signal?.aborted ? error : (late ?? error));
        },
      },
    );
  });
}
