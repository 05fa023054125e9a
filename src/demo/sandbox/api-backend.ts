import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The demo's API: a plain JSON backend on a real port that accepts rows, counts them and keeps
 * their ids, with a little work per request and a session for a caller without one. It has no
 * fault scripts: test/helpers/http-sink.ts adds those (and full request records) through
 * `BackendHooks`.
 */
export interface ApiBackendOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  name?: string; // backend name, sent as `x-backend` on every answer; default 'sink'
  /** ids: keep the ids of accepted rows (default); count: counters only (bench). */
  record?: 'ids' | 'count';
  idField?: string; // default 'id'
  okStatus?: 200 | 201; // default 200
  latencyMs?: number; // added to every answer
  /**
   * Extra latency of a request without a SESSION cookie this backend issued; such a request gets one.
   * Models an API that builds a session per cookieless request, which is why stickiness can pay.
   */
  sessionSetupMs?: number;
}

/** One request whose body has arrived. */
export interface ApiRequest {
  n: number; // 1-based arrival order on this backend
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  ids: string[]; // of the rows that have the id field
  socket: Socket;
}

/** What to answer: status 0 resets the connection instead. */
export interface Answer {
  status: number;
  body: string;
  /** Extra header pairs, flat: [name, value, name, value…]. */
  headers: string[];
  /** Added to the backend's latency. */
  delayMs: number;
}

/**
 * What a wrapper (the test sink) adds to a backend: `around` runs in place of the application
 * and may answer without calling it or change its answer; `answered` sees every answer.
 */
export interface BackendHooks {
  around?(req: ApiRequest, application: () => Answer): Answer;
  answered?(req: ApiRequest, answer: Answer): void;
}

/** rejected: non-2xx answers; rows: rows in accepted requests; sessions: sessions built. */
export interface SinkCounts {
  requests: number;
  accepted: number;
  rejected: number;
  resets: number;
  rows: number;
  sessions: number;
}

/** What a front (the balancer) adds to an answer, and how it reports a reset (an ALB answers 502). */
export interface Via {
  headers: readonly string[];
  reset?(res: ServerResponse): void;
}

export interface ApiBackend extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly counts: SinkCounts;
  readonly healthy: boolean;
  /** Ids of rows in 2xx answers, in order, duplicates kept (record 'ids'). */
  acceptedIds(): string[];
  idCounts(): Map<string, number>;
  setLatency(ms: number): void;
  /** An unhealthy backend answers 503 to everything, and the balancer stops routing to it. */
  setHealthy(healthy: boolean): void;
  /** Forgets accepted ids and counters (e.g. after a bench warm-up); issued sessions stay valid. */
  clear(): void;
  /** Answers one request whose body has been read; the balancer calls it to run backends in-process. */
  handle(req: IncomingMessage, res: ServerResponse, body: string, via?: Via): void;
  close(): Promise<void>;
}

const socketIds = new WeakMap<Socket, number>();
let lastSocketId = 0;

/** A process-wide id per client connection, so backend and balancer records can be joined. */
export function socketIdOf(socket: Socket): number {
  let id = socketIds.get(socket);
  if (id === undefined) {
    id = ++lastSocketId;
    socketIds.set(socket, id);
  }
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

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens with bodies read as text; idle keep-alive like an ALB's (60 s), not Node's 5 s that cuts lanes. */
export async function listen(
  host: string,
  port: number,
  onBody: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<Listening> {
  const server = createServer({ noDelay: true }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => onBody(req, res, body));
    req.on('error', () => {}); // a client that hangs up mid-body is not the backend's failure
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
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets would otherwise hold close() for a minute
      })),
  };
}

const JSON_TYPE = ['content-type', 'application/json'];
const OK_BODY = '{"ok":true}';
const UNHEALTHY: Answer = { status: 503, body: '{"error":"unhealthy"}', headers: [], delayMs: 0 };

/** Starts an API backend on a real port (127.0.0.1:0 by default). */
export async function startApiBackend(opts: ApiBackendOptions = {}, hooks: BackendHooks = {}): Promise<ApiBackend> {
  const { name = 'sink', record = 'ids', idField = 'id', okStatus = 200, sessionSetupMs = 0 } = opts;
  const counts: SinkCounts = { requests: 0, accepted: 0, rejected: 0, resets: 0, rows: 0, sessions: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const okHeaders = [...JSON_TYPE, 'x-backend', name, 'content-length', String(OK_BODY.length)];
  let accepted: string[] = [];
  let latency = opts.latencyMs ?? 0;
  let healthy = true;
  let sessionsIssued = 0;

  // Stateless check (no set of issued sessions to grow at bench rates): this backend's prefix, a number it issued.
  const validSession = (cookie: string | undefined): boolean => {
    const v = cookieValue(cookie, 'SESSION');
    const k = v?.startsWith(`${name}-`) ? Number(v.slice(name.length + 1)) : NaN;
    return Number.isInteger(k) && k >= 1 && k <= sessionsIssued;
  };

  /** The "application": builds a session when the caller has none, refuses a body that is not rows. */
  const application = (req: IncomingMessage, error: string): Answer => {
    const answer: Answer = { status: okStatus, body: OK_BODY, headers: [], delayMs: 0 };
    if (sessionSetupMs > 0 && !validSession(req.headers.cookie)) {
      answer.delayMs += sessionSetupMs;
      counts.sessions++;
      answer.headers.push('set-cookie', `SESSION=${name}-${++sessionsIssued}; Path=/; HttpOnly`);
    }
    if (error) {
      answer.status = 400;
      answer.body = JSON.stringify({ error });
    }
    return answer;
  };

  function handle(req: IncomingMessage, res: ServerResponse, body: string, via?: Via): void {
    const n = ++counts.requests;
    const { rows, ids, error } = parseRows(body, idField);
    const request: ApiRequest = {
      n,
      method: req.method ?? '',
      path: req.url ?? '/',
      headers: req.headers,
      body,
      ids,
      socket: req.socket,
    };
    const answer = !healthy
      ? UNHEALTHY
      : hooks.around
        ? hooks.around(request, () => application(req, error))
        : application(req, error);
    const { status } = answer;
    if (status >= 200 && status < 300) {
      counts.accepted++;
      counts.rows += rows;
      if (record === 'ids') for (const id of ids) accepted.push(id);
    } else if (status === 0) counts.resets++;
    else counts.rejected++;
    hooks.answered?.(request, answer);
    const respond = (): void => {
      if (res.destroyed || res.headersSent) return;
      if (status === 0) {
        if (via?.reset) via.reset(res);
        else res.socket?.resetAndDestroy(); // RST, as a crashed server's kernel would send
      } else if (answer.body === OK_BODY && answer.headers.length === 0 && !via) {
        res.writeHead(status, okHeaders).end(OK_BODY); // the bench's path: no header array built
      } else {
        const length = String(Buffer.byteLength(answer.body));
        const fronted = via?.headers ?? [];
        const headers = [...JSON_TYPE, 'x-backend', name, 'content-length', length, ...answer.headers, ...fronted];
        res.writeHead(status, headers).end(answer.body);
      }
    };
    const delay = latency + answer.delayMs;
    if (delay <= 0) {
      respond();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      respond();
    }, delay);
    timers.add(t);
  }

  const server = await listen(opts.host ?? '127.0.0.1', opts.port ?? 0, handle);
  const close = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t); // delayed answers must not keep the process alive
    timers.clear();
    await server.close();
  };
  return {
    url: server.url,
    port: server.port,
    name,
    counts,
    handle,
    close,
    [Symbol.asyncDispose]: close,
    get healthy() {
      return healthy;
    },
    acceptedIds: () => [...accepted],
    idCounts: () => accepted.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>()),
    setLatency: (ms) => {
      latency = ms;
    },
    setHealthy: (h) => {
      healthy = h;
    },
    clear() {
      accepted = [];
      for (const k of Object.keys(counts) as (keyof SinkCounts)[]) counts[k] = 0;
    },
  };
}

/** How many rows a body holds (one object or an array of them), with the ids of those that have the id field. */
function parseRows(body: string, idField: string): { rows: number; ids: string[]; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return { rows: 0, ids: [], error: 'invalid JSON' };
  }
  const rows = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? [v] : undefined;
  if (!rows) return { rows: 0, ids: [], error: 'expected a JSON object or array' };
  const ids: string[] = [];
  for (const row of rows) {
    const id = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[idField] : undefined;
    if (id !== undefined && id !== null) ids.push(String(id));
  }
  return { rows: rows.length, ids, error: '' };
}
