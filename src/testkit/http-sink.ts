import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as a sink saw it (kept only with `record: 'full'`). */
export interface RecordedRequest {
  /** 1-based arrival order on this sink: the `n` the fault script saw. */
  seq: number;
  /** Date.now() once the body had arrived. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  ids: string[];
  /** Status answered, or 0 when the connection was reset instead. */
  status: number;
  /** The client connection that carried it: unique in the process, the same id the balancer reports. */
  socketId: number;
  backend: string;
}

/** A scripted misbehaviour: answer this status, reset the connection, or answer normally but late. */
export type Fault = { status: number; retryAfter?: string; body?: string } | { reset: true } | { delayMs: number };
export interface FaultContext { n: number; method: string; path: string; headers: IncomingHttpHeaders; body: string; ids: string[] }
export type FaultScript = (req: FaultContext) => Fault | undefined;

export interface HttpSinkOptions {
  host?: string;
  port?: number;
  /** Backend name, sent as `x-backend` on every answer. Default 'sink'. */
  name?: string;
  /** full: every request with its body; ids: accepted ids only; count: counters only (bench). Default full. */
  record?: 'full' | 'ids' | 'count';
  idField?: string;
  /** Status of a successful answer. Default 200. */
  okStatus?: 200 | 201;
  latencyMs?: number;
  fault?: FaultScript;
  /** A request whose body holds one of these ids is answered 400, naming them. */
  rejectIds?: Iterable<string>;
  /**
   * Extra latency of a request without a SESSION cookie this sink issued; such a request gets one.
   * Models an API that builds a session per cookieless request, which is why stickiness can pay.
   */
  sessionSetupMs?: number;
}

export interface SinkCounts {
  requests: number;
  accepted: number;
  /** Answered with a non-2xx status. */
  rejected: number;
  resets: number;
  /** Rows in accepted requests. */
  rows: number;
  sessions: number;
}

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
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
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

class Sink implements HttpSink {
  url = '';
  port = 0;
  readonly name: string;
  readonly requests: RecordedRequest[] = [];
  readonly counts: SinkCounts = { requests: 0, accepted: 0, rejected: 0, resets: 0, rows: 0, sessions: 0 };
  healthy = true;
  #accepted: string[] = [];
  #latency: number;
  #fault: FaultScript | undefined;
  #sessionsIssued = 0;
  readonly #reject: Set<string>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #okHeaders: string[];
  #listening: Listening | undefined;

  constructor(private readonly opts: HttpSinkOptions) {
    this.name = opts.name ?? 'sink';
    this.#latency = opts.latencyMs ?? 0;
    this.#fault = opts.fault;
    this.#reject = new Set(opts.rejectIds ?? []);
    this.#okHeaders = [...JSON_TYPE, 'x-backend', this.name, 'content-length', '11']; // {"ok":true}
  }

  async start(): Promise<this> {
    this.#listening = await listen(this.opts.host ?? '127.0.0.1', this.opts.port ?? 0, (req, res, body) => this.handle(req, res, body));
    this.url = this.#listening.url;
    this.port = this.#listening.port;
    return this;
  }

  acceptedIds(): string[] { return [...this.#accepted]; }
  idCounts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const id of this.#accepted) m.set(id, (m.get(id) ?? 0) + 1);
    return m;
  }
  setLatency(ms: number): void { this.#latency = ms; }
  setFault(fn?: FaultScript): void { this.#fault = fn; }
  setHealthy(healthy: boolean): void { this.healthy = healthy; }
  clear(): void {
    this.requests.length = 0;
    this.#accepted = [];
    for (const k of Object.keys(this.counts) as (keyof SinkCounts)[]) this.counts[k] = 0;
  }

  handle(req: IncomingMessage, res: ServerResponse, body: string, via?: Via): void {
    const n = ++this.counts.requests;
    const { record = 'full', idField = 'id', sessionSetupMs = 0 } = this.opts;
    let rows: unknown[] | undefined;
    let error = '';
    try {
      const v: unknown = JSON.parse(body);
      rows = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? [v] : undefined;
      if (!rows) error = 'expected a JSON object or array';
    } catch { error = 'invalid JSON'; }
    const ids: string[] = [];
    for (const row of rows ?? []) {
      const id = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[idField] : undefined;
      if (id !== undefined && id !== null) ids.push(String(id));
    }
    const path = req.url ?? '/';
    const fault: Fault | undefined = !this.healthy
      ? { status: 503, body: '{"error":"unhealthy"}' }
      : this.#fault?.({ n, method: req.method ?? '', path, headers: req.headers, body, ids });
    let delay = this.#latency;
    let status: number = this.opts.okStatus ?? 200;
    let answer = '';
    const extra: string[] = [];
    if (fault && 'reset' in fault) {
      status = 0;
    } else if (fault && 'status' in fault) {
      status = fault.status;
      answer = fault.body ?? `{"error":"injected ${status}"}`;
      if (fault.retryAfter !== undefined) extra.push('retry-after', fault.retryAfter);
    } else {
      // Past the scripted front-door faults the request reaches the "application".
      if (fault) delay += fault.delayMs;
      if (sessionSetupMs > 0 && !this.#validSession(req.headers.cookie)) {
        delay += sessionSetupMs;
        this.counts.sessions++;
        extra.push('set-cookie', `SESSION=${this.name}-${++this.#sessionsIssued}; Path=/; HttpOnly`);
      }
      const hit = error || this.#reject.size === 0 ? [] : ids.filter((id) => this.#reject.has(id));
      if (error || hit.length > 0) {
        status = 400;
        answer = JSON.stringify(error ? { error } : { error: 'rejected ids', ids: hit });
      }
    }
    const ok = status >= 200 && status < 300;
    if (ok) {
      this.counts.accepted++;
      this.counts.rows += rows?.length ?? 0;
      if (record !== 'count') for (const id of ids) this.#accepted.push(id);
    } else if (status === 0) this.counts.resets++;
    else this.counts.rejected++;
    if (record === 'full') {
      const socketId = socketIdOf(req.socket);
      this.requests.push({ seq: n, at: Date.now(), method: req.method ?? '', path, headers: req.headers, body, ids, status, socketId, backend: this.name });
    }
    const respond = (): void => {
      if (res.destroyed || res.headersSent) return;
      if (status === 0) {
        if (via?.reset) via.reset(res);
        else res.socket?.destroy();
      } else if (ok && extra.length === 0 && !via) {
        res.writeHead(status, this.#okHeaders).end('{"ok":true}'); // the bench's path: no allocation
      } else {
        if (ok) answer = '{"ok":true}';
        const length = String(Buffer.byteLength(answer));
        res.writeHead(status, [...JSON_TYPE, 'x-backend', this.name, 'content-length', length, ...extra, ...(via?.headers ?? [])]).end(answer);
      }
    };
    if (delay <= 0) return respond();
    const t = setTimeout(() => { this.#timers.delete(t); respond(); }, delay);
    this.#timers.add(t);
  }

  #validSession(cookie: string | undefined): boolean {
    const v = cookieValue(cookie, 'SESSION');
    if (!v?.startsWith(`${this.name}-`)) return false;
    const k = Number(v.slice(this.name.length + 1));
    return Number.isInteger(k) && k >= 1 && k <= this.#sessionsIssued;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t); // delayed answers must not keep the process alive
    this.#timers.clear();
    await this.#listening?.close();
  }
  [Symbol.asyncDispose](): Promise<void> { return this.close(); }
}

/** Starts a recording HTTP sink on a real port (127.0.0.1:0 by default). */
export function startHttpSink(opts: HttpSinkOptions = {}): Promise<HttpSink> {
  return new Sink(opts).start();
}
