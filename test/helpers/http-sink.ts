import type { IncomingHttpHeaders } from 'node:http';
import {
  socketIdOf,
  startApiBackend,
  type Answer,
  type ApiBackend,
  type ApiBackendOptions,
  type ApiRequest,
} from '../../src/demo/sandbox/api-backend.js';

export type { SinkCounts } from '../../src/demo/sandbox/api-backend.js';

/**
 * The tests' HTTP sink: the demo's API backend (src/demo/sandbox/api-backend.ts) plus what only
 * tests and the soak need: fault scripts, ids it refuses, and a record of every request.
 * The soak (bench/soak) uses it too, so `npm run build` compiles this file (tsconfig.json).
 */

/** One request as a sink saw it (kept only with `record: 'full'`). */
export interface RecordedRequest {
  seq: number; // 1-based arrival order on this sink: the `n` the fault script saw
  at: number; // Date.now() once the body had arrived
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  ids: string[];
  status: number; // 0 when the connection was reset instead
  socketId: number; // the client connection: unique in the process, as in the balancer's routes()
  backend: string;
}

/** A scripted misbehaviour: answer this status, reset the connection, or answer normally but late. */
export type Fault =
  | { status: number; retryAfter?: string; body?: string }
  | { reset: true }
  | { delayMs: number }
  /** Answer normally, with these Set-Cookie headers added. */
  | { setCookie: readonly string[] };
export type FaultContext = Pick<ApiRequest, 'n' | 'method' | 'path' | 'headers' | 'body' | 'ids'>;
export type FaultScript = (req: FaultContext) => Fault | undefined;

export interface HttpSinkOptions extends Omit<ApiBackendOptions, 'record'> {
  /** full: every request with its body (default); ids: accepted ids only; count: counters only (bench). */
  record?: 'full' | 'ids' | 'count';
  fault?: FaultScript;
  /** A request whose body holds one of these ids is answered 400, naming them. */
  rejectIds?: Iterable<string>;
}

export interface HttpSink extends ApiBackend {
  readonly requests: RecordedRequest[];
  setFault(fn?: FaultScript): void;
}

/** Starts a recording HTTP sink on a real port (127.0.0.1:0 by default). */
export async function startHttpSink(opts: HttpSinkOptions = {}): Promise<HttpSink> {
  const { record = 'full', fault, rejectIds, ...rest } = opts;
  const requests: RecordedRequest[] = [];
  const reject = new Set(rejectIds ?? []);
  let script = fault;
  let name = '';

  const around = (req: ApiRequest, application: () => Answer): Answer => {
    const { n, method, path, headers, body, ids } = req;
    const f = script?.({ n, method, path, headers, body, ids });
    // Front-door faults: the request never reaches the application.
    if (f && 'reset' in f) return { status: 0, body: '', headers: [], delayMs: 0 };
    if (f && 'status' in f) {
      const headers = f.retryAfter === undefined ? [] : ['retry-after', f.retryAfter];
      return { status: f.status, body: f.body ?? `{"error":"injected ${f.status}"}`, headers, delayMs: 0 };
    }
    const answer = application();
    if (f && 'delayMs' in f) answer.delayMs += f.delayMs;
    if (f && 'setCookie' in f) for (const c of f.setCookie) answer.headers.push('set-cookie', c);
    const hit = reject.size === 0 ? [] : req.ids.filter((id) => reject.has(id));
    if (hit.length > 0) {
      answer.status = 400;
      answer.body = JSON.stringify({ error: 'rejected ids', ids: hit });
    }
    return answer;
  };
  const answered = (req: ApiRequest, answer: Answer): void => {
    if (record !== 'full') return;
    const { n: seq, method, path, headers, body, ids } = req;
    const socketId = socketIdOf(req.socket);
    const { status } = answer;
    requests.push({ seq, at: Date.now(), method, path, headers, body, ids, status, socketId, backend: name });
  };

  // The backend keeps accepted ids (for 'full' and 'ids'); whole requests are recorded here.
  const kept = record === 'count' ? 'count' : 'ids';
  const backend = await startApiBackend({ ...rest, record: kept }, { around, answered });
  name = backend.name;
  const clearBackend = backend.clear;
  return Object.assign(backend, {
    requests,
    setFault: (fn?: FaultScript) => {
      script = fn;
    },
    clear() {
      requests.length = 0;
      clearBackend();
    },
  });
}
