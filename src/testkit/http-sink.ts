import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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
export type Fault = { status: number; retryAfter?: string; body?: string } | { reset: true } | { delayMs: number }
  /** Answer normally, with these Set-Cookie headers added. */
  | { setCookie: readonly string[] };
export interface FaultContext { n: number; method: string; path: string; headers: IncomingHttpHeaders; body: string; ids: string[] }
export type FaultScript = (req: FaultContext) => Fault | undefined;

export interface HttpSinkOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  name?: string; // backend name, sent as `x-backend` on every answer; default 'sink'
  /** full: every request with its body (default); ids: accepted ids only; count: counters only (bench). */
  record?: 'full' | 'ids' | 'count';
  idField?: string; // default 'id'
  okStatus?: 200 | 201; // default 200
  latencyMs?: number; // added to every answer
  fault?: FaultScript;
  /** A request whose body holds one of these ids is answered 400, naming them. */
  rejectIds?: Iterable<string>;
  /**
   * Extra latency of a request without a SESSION cookie this sink issued; such a request gets one.
   * Models an API that builds a session per cookieless request, which is why stickiness can pay.
   */
  sessionSetupMs?: number;
}

/** rejected: non-2xx answers; rows: rows in accepted requests; sessions: sessions built. */
export interface SinkCounts { requests: number; accepted: number; rejected: number; resets: number; rows: number; sessions: number }

/** What a front (the balancer) adds to an answer, and how it reports a reset (an ALB answers 502). */
export interface Via { headers: readonly string[]; reset?(res: ServerResponse): void }

export interface HttpSink extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly requests: RecordedRequest[];
  readonly counts: SinkCounts;
  readonly healthy: boolean;
  /** Ids of rows in 2xx answers, in order, duplicates kept (record 'full' or 'ids'). */
  acceptedIds(): string[];
  idCounts(): Map<string, number>;
  setLatency(ms: number): void;
  setFault(fn?: FaultScript): void;
  /** An unhealthy sink answers 503 to everything, and the balancer stops routing to it. */
  setHealthy(healthy: boolean): void;
  /** Forgets recorded requests and counters (e.g. after a bench warm-up); issued sessions stay valid. */
  clear(): void;
  /** Answers one request whose body has been read; the balancer calls it to run backends in-process. */
  handle(req: IncomingMessage, res: ServerResponse, body: string, via?: Via): void;
  close(): Promise<void>;
}

const socketIds = new WeakMap<Socket, number>();
let lastSocketId = 0;

/** A process-wide id per client connection, so sink and balancer records can be joined. */
export function socketIdOf(socket: Socket): number {
  let id = socketIds.get(socket);
  if (id === undefined) socketIds.set(socket, (id = ++lastSocketId));
  return id;
}

/** The value of cookie `name` in a Cookie header, without splitting the whole header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const key = `${name}=`;
  for (let from = 0, i = header.indexOf(key); i >= 0; from = i + 1, i = header.indexOf(key, from)) {
    if (i > 0 && header[i - 1] !== ' ' && header[i - 1] !== ';') continue; // e.g. XAWSALB=
    const end = header.indexOf(';', i);
    return header.slice(i + key.length, end < 0 ? undefined : end).trim();
  }
  return undefined;
}

export interface Listening { url: string; port: number; close(): Promise<void> }

/** Listens with bodies read as text; idle keep-alive like an ALB's (60 s), not Node's 5 s that cuts lanes. */
export async function listen(host: string, port: number, onBody: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Listening> {
  const server = createServer({ noDelay: true }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => onBody(req, res, body));
    req.on('error', () => {}); // a client that hangs up mid-body is not the sink's failure
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    port: actual,
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // keep-alive sockets would otherwise hold close() for a minute
    })),
  };
}

const JSON_TYPE = ['content-type', 'application/json'];
const OK_BODY = '{"ok":true}';

/** Starts a recording HTTP sink on a real port (127.0.0.1:0 by default). */
export async function startHttpSink(opts: HttpSinkOptions = {}): Promise<HttpSink> {
  const { name = 'sink', record = 'full', idField = 'id', okStatus = 200, sessionSetupMs = 0 } = opts;
  const requests: RecordedRequest[] = [];
  const counts: SinkCounts = { requests: 0, accepted: 0, rejected: 0, resets: 0, rows: 0, sessions: 0 };
  const reject = new Set(opts.rejectIds ?? []);
  const timers = new Set<NodeJS.Timeout>();
  const okHeaders = [...JSON_TYPE, 'x-backend', name, 'content-length', String(OK_BODY.length)];
  let accepted: string[] = [];
  let latency = opts.latencyMs ?? 0;
  let script = opts.fault;
  let healthy = true;
  let sessionsIssued = 0;

  // Stateless check (no set of issued sessions to grow at bench rates): this sink's prefix, a number it issued.
  const validSession = (cookie: string | undefined): boolean => {
    const v = cookieValue(cookie, 'SESSION');
    const k = v?.startsWith(`${name}-`) ? Number(v.slice(name.length + 1)) : NaN;
    return Number.isInteger(k) && k >= 1 && k <= sessionsIssued;
  };

  function handle(req: IncomingMessage, res: ServerResponse, body: string, via?: Via): void {
    const n = ++counts.requests;
    const { rows, ids, error } = parseRows(body, idField);
    const path = req.url ?? '/';
    const fault: Fault | undefined = !healthy
      ? { status: 503, body: '{"error":"unhealthy"}' }
      : script?.({ n, method: req.method ?? '', path, headers: req.headers, body, ids });
    let delay = latency;
    let status: number = okStatus;
    let answer = OK_BODY;
    const extra: string[] = [];
    if (fault && 'reset' in fault) {
      status = 0;
    } else if (fault && 'status' in fault) {
      status = fault.status;
      answer = fault.body ?? `{"error":"injected ${status}"}`;
      if (fault.retryAfter !== undefined) extra.push('retry-after', fault.retryAfter);
    } else {
      // Past the front-door faults the request reaches the "application".
      if (fault && 'delayMs' in fault) delay += fault.delayMs;
      if (fault && 'setCookie' in fault) for (const c of fault.setCookie) extra.push('set-cookie', c);
      if (sessionSetupMs > 0 && !validSession(req.headers.cookie)) {
        delay += sessionSetupMs;
        counts.sessions++;
        extra.push('set-cookie', `SESSION=${name}-${++sessionsIssued}; Path=/; HttpOnly`);
      }
      const hit = error || reject.size === 0 ? [] : ids.filter((id) => reject.has(id));
      if (error || hit.length > 0) {
        status = 400;
        answer = JSON.stringify(error ? { error } : { error: 'rejected ids', ids: hit });
      }
    }
    const ok = status >= 200 && status < 300;
    if (ok) {
      counts.accepted++;
      counts.rows += rows.length;
      if (record !== 'count') for (const id of ids) accepted.push(id);
    } else if (status === 0) counts.resets++;
    else counts.rejected++;
    if (record === 'full') {
      const socketId = socketIdOf(req.socket);
      requests.push({ seq: n, at: Date.now(), method: req.method ?? '', path, headers: req.headers, body, ids, status, socketId, backend: name });
    }
    const respond = (): void => {
      if (res.destroyed || res.headersSent) return;
      if (status === 0) {
        if (via?.reset) via.reset(res);
        else res.socket?.resetAndDestroy(); // RST, as a crashed server's kernel would send
      } else if (answer === OK_BODY && extra.length === 0 && !via) {
        res.writeHead(status, okHeaders).end(answer); // the bench's path: nothing allocated
      } else {
        const length = String(Buffer.byteLength(answer));
        const headers = [...JSON_TYPE, 'x-backend', name, 'content-length', length, ...extra, ...(via?.headers ?? [])];
        res.writeHead(status, headers).end(answer);
      }
    };
    if (delay <= 0) return respond();
    const t = setTimeout(() => { timers.delete(t); respond(); }, delay);
    timers.add(t);
  }

  const server = await listen(opts.host ?? '127.0.0.1', opts.port ?? 0, handle);
  const close = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t); // delayed answers must not keep the process alive
    timers.clear();
    await server.close();
  };
  return {
    url: server.url, port: server.port, name, requests, counts, handle, close, [Symbol.asyncDispose]: close,
    get healthy() { return healthy; },
    acceptedIds: () => [...accepted],
    idCounts: () => accepted.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>()),
    setLatency: (ms) => { latency = ms; },
    setFault: (fn) => { script = fn; },
    setHealthy: (h) => { healthy = h; },
    clear() {
      requests.length = 0;
      accepted = [];
      for (const k of Object.keys(counts) as (keyof SinkCounts)[]) counts[k] = 0;
    },
  };
}

/** One row (object) or a batch (array), with the ids of rows that have the id field. */
function parseRows(body: string, idField: string): { rows: unknown[]; ids: string[]; error: string } {
  let v: unknown;
  try { v = JSON.parse(body); } catch { return { rows: [], ids: [], error: 'invalid JSON' }; }
  const rows = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? [v] : undefined;
  if (!rows) return { rows: [], ids: [], error: 'expected a JSON object or array' };
  const ids: string[] = [];
  for (const row of rows) {
    const id = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[idField] : undefined;
    if (id !== undefined && id !== null) ids.push(String(id));
  }
  return { rows, ids, error: '' };
}
