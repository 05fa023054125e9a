import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to one SendMessageBatch call (others pass through untouched). */
export type SqsFault =
  | { kind: 'error'; status: number; type: string }
  /** Passed through after this long: a slow queue, so a test can tell what was in flight. */
  | { kind: 'delay'; ms: number }
  | {
      kind: 'fail-entries';
      fail: (entry: { Id: string; MessageBody: string }) => { code: string; senderFault: boolean } | undefined;
    };

export interface SqsFaultProxy extends AsyncDisposable {
  readonly endpoint: string;
  /** SendMessageBatch calls seen, and entries per call. */
  readonly batches: { entries: number }[];
  /** ReceiveMessage calls seen. */
  readonly receives: number;
  close(): Promise<void>;
}

/**
 * A real HTTP proxy in front of the emulator that stages what SQS does under stress: a call
 * answered with an error (throttling, 5xx), or an HTTP 200 whose Failed[] holds chosen entries.
 * Failed entries are taken out of the request before it is forwarded, as SQS would not have
 * enqueued them.
 */
export async function startSqsFaultProxy(
  upstream: string,
  script: (call: number) => SqsFault | undefined,
  /** The same for ReceiveMessage calls (an error only). */
  receiveScript?: (call: number) => Extract<SqsFault, { kind: 'error' }> | undefined,
): Promise<SqsFaultProxy> {
  const batches: { entries: number }[] = [];
  let receives = 0;
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    let body = JSON.parse(text) as { Entries?: { Id: string; MessageBody: string }[] };
    const fault = target.endsWith('.SendMessageBatch')
      ? script(batches.push({ entries: body.Entries?.length ?? 0 }))
      : target.endsWith('.ReceiveMessage')
        ? receiveScript?.(++receives)
        : undefined;
    if (fault?.kind === 'error') {
      res.writeHead(fault.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': `${fault.type};Sender`,
      });
      res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${fault.type}`, message: `staged ${fault.type}` }));
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    const failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
    if (fault?.kind === 'fail-entries') {
      const keep = [];
      for (const e of body.Entries ?? []) {
        const f = fault.fail(e);
        if (f) failed.push({ Id: e.Id, SenderFault: f.senderFault, Code: f.code, Message: `staged ${f.code}` });
        else keep.push(e);
      }
      body = { ...body, Entries: keep };
    }
    let answer: { Successful?: unknown[]; Failed?: unknown[] } = { Successful: [], Failed: [] };
    let status = 200;
    if (!fault || fault.kind === 'delay' || (body.Entries?.length ?? 0) > 0) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const up = await fetch(`${upstream}${req.url ?? '/'}`, { method: 'POST', headers, body: JSON.stringify(body) });
      status = up.status;
      answer = (await up.json()) as typeof answer;
    }
    if (failed.length > 0) answer = { ...answer, Failed: [...(answer.Failed ?? []), ...failed] };
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    batches,
    get receives() {
      return receives;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += chunk as string;
  return text;
}
