import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An SQS stand-in for `--rss-scale`: it answers GetQueueAttributes and SendMessageBatch (SQS's
 * JSON protocol) as SQS does, MD5 of each body included, and keeps nothing. fauxqs holds every
 * message, and 5,000,000 rows of them exhaust its heap; the client cannot tell the difference.
 * It counts the messages and rows it accepted, for the counts check.
 */
export interface DiscardingSqs {
  readonly endpoint: string;
  readonly queueUrl: string;
  counts(): { messages: number; rows: number };
  close(): Promise<void>;
}

export async function startDiscardingSqs(): Promise<DiscardingSqs> {
  let messages = 0;
  let rows = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        Entries?: { Id: string; MessageBody: string; MessageAttributes?: { rows?: { StringValue?: string } } }[];
      };
      let out: unknown = {};
      if (target.endsWith('.GetQueueAttributes')) out = { Attributes: { MaximumMessageSize: '1048576' } };
      else if (target.endsWith('.SendMessageBatch')) {
        const entries = input.Entries ?? [];
        messages += entries.length;
        // The plain script sends no attributes: its rows are counted from the body.
        for (const e of entries) {
          const attribute = e.MessageAttributes?.rows?.StringValue;
          rows +=
            attribute !== undefined
              ? Number(attribute)
              : ((JSON.parse(e.MessageBody) as { rows?: unknown[] }).rows?.length ?? NaN);
        }
        out = {
          Successful: entries.map((e) => ({
            Id: e.Id,
            MessageId: randomUUID(),
            MD5OfMessageBody: createHash('md5').update(e.MessageBody).digest('hex'),
          })),
          Failed: [],
        };
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(out));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    queueUrl: `${endpoint}/000000000000/discard`,
    counts: () => ({ messages, rows }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
