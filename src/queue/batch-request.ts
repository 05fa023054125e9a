import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchResultEntry,
} from '@aws-sdk/client-sqs';
import type { BuildMiddleware } from '@smithy/types';
import { ENVELOPE_TAIL, envelopeAttributes, envelopeHead } from './envelope.js';
import type { PackedMessage } from './message-packer.js';

/**
 * A SendMessageBatch whose HTTP body is written once, straight into one buffer, and handed to the
 * SDK as it is. Left to itself the SDK builds an object tree of the call, turns it into one JSON
 * string (~700 KB for ten 64 KiB messages, escaped), encodes that into bytes, and its MD5 check
 * copies every message body into bytes again: three short-lived copies of each call in large
 * object space, which is what made queue mode's heap (and RSS) grow with calls in flight. Here
 * each run of rows is escaped on its own (a young string, written out at once and dropped) into
 * the buffer; the SDK still signs, sends, retries and parses the answer.
 * The wire format is SQS's JSON protocol (awsJson1_0), member for member what the SDK writes.
 */
export function sendBatchCommand(queueUrl: string, body: Buffer): SendMessageBatchCommand {
  // Entries stay empty in the input: the serializer has nothing to copy; the body replaces its output.
  const command = new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] });
  command.middlewareStack.add(prebuiltBody(body), PREBUILT_BODY);
  return command;
}

/** A call's HTTP body, and the MD5 of each message's body as SQS must answer it. */
export interface RequestBody {
  readonly body: Buffer;
  readonly md5: readonly string[];
  /** Hands the body's memory back for the next call: only once SQS has answered (nothing reads it any more). */
  release(): void;
}

/**
 * Request bodies of ordinary calls (up to ~800 KiB of payload) are written into buffers reused
 * from call to call. A fresh ~700 KB buffer per call was ~700 MB of memory outside the JS heap
 * per million rows, and V8 frees such memory only when a full collection finds its Buffer dead,
 * which it starts only once ~64 MB of it has piled up: that pile was most of queue mode's RSS.
 * The byte budget keeps ~5 calls in flight, so a handful of buffers serve the whole run. Small
 * calls (--rows-per-message 1: ~8 KB, up to --concurrency of them in flight) get a buffer of
 * their own size: a 1 MiB one each would count as that much more memory for V8 to collect.
 */
const POOLED_BYTES = 1_048_576;
const POOL_MAX = 8;
const pool: Buffer[] = [];

/**
 * The request body SQS's JSON protocol expects, entry i holding messages[i] with Id "i", and the
 * MD5 of each message body, hashed from the same bytes while they are at hand. The rows are
 * UTF-8 bytes (message-packer.ts), escaped byte by byte straight into the buffer (escapeInto):
 * no string of them is made, so sending a call allocates nothing on the JS heap in proportion to
 * its payload. The buffer is sized from the payload (rows' quotes escaped add ~10 %) and grows
 * only for unusually escape-heavy rows.
 */
export function requestBody(queueUrl: string, messages: readonly PackedMessage[]): RequestBody {
  let size = 256 + queueUrl.length;
  for (const m of messages) size += Math.ceil(m.bytes * 1.25) + 64;
  const pooled = size > POOLED_BYTES / 4 && size <= POOLED_BYTES;
  let out = pooled ? (pool.pop() ?? Buffer.allocUnsafeSlow(POOLED_BYTES)) : Buffer.allocUnsafeSlow(size);
  let at = 0;
  const reserve = (bytes: number) => {
    if (at + bytes <= out.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + bytes));
    out.copy(grown, 0, 0, at);
    out = grown;
  };
  const write = (text: string) => {
    reserve(Buffer.byteLength(text));
    at += out.write(text, at);
  };
  const md5: string[] = [];
  write(`{"QueueUrl":${JSON.stringify(queueUrl)},"Entries":[`);
  messages.forEach((m, i) => {
    const head = envelopeHead(m.meta.job);
    const hash = createHash('md5').update(head);
    write(`${i > 0 ? ',' : ''}{"Id":"${i}","MessageBody":${JSON.stringify(head).slice(0, -1)}`);
    m.parts.forEach((part, k) => {
      if (k > 0) {
        write(',');
        hash.update(COMMA);
      }
      hash.update(part);
      // Room for the part unescaped; escapes are rarer than one byte in eight (JSON's quotes).
      reserve(part.length + (part.length >> 3) + 16);
      let i = 0;
      for (;;) {
        const done = escapeInto(part, i, out, at);
        at = done.at;
        i = done.i;
        if (i === part.length) break;
        reserve(part.length - i + ((part.length - i) >> 3) + 16);
      }
    });
    md5.push(hash.update(ENVELOPE_TAIL).digest('hex'));
    write(`${ESCAPED_TAIL}"`);
    write(`,"MessageAttributes":${JSON.stringify(envelopeAttributes(m.meta))}}`);
  });
  write(']}');
  const done = out;
  let released = false;
  const release = () => {
    if (released || done.length !== POOLED_BYTES || pool.length >= POOL_MAX) return;
    released = true;
    pool.push(done);
  };
  return { body: out.subarray(0, at), md5, release };
}

const COMMA = Buffer.from(',');
const HEX = Buffer.from('0123456789abcdef');

/**
 * Writes src[i…] into out[at…] as the inside of a JSON string, as far as out has room for the worst
 * case (6 bytes) of the next byte; returns where both stopped. Escaping the bytes themselves makes
 * no JS string at all: every byte ≥ 0x20 but a quote or a backslash is copied, and bytes of
 * multi-byte characters (≥ 0x80) are such bytes.
 */
function escapeInto(src: Uint8Array, from: number, out: Uint8Array, to: number): { i: number; at: number } {
  const n = src.length;
  const stop = out.length - 6;
  let at = to;
  let i = from;
  for (; i < n && at <= stop; i++) {
    const c = src[i] as number;
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      out[at++] = c;
      continue;
    }
    out[at++] = 0x5c; // \
    if (c === 0x22 || c === 0x5c) out[at++] = c;
    else if (c === 0x0a)
      out[at++] = 0x6e; // \n
    else {
      // Other control characters as \u00XX.
      out[at++] = 0x75;
      out[at++] = 0x30;
      out[at++] = 0x30;
      out[at++] = HEX[c >> 4] as number;
      out[at++] = HEX[c & 15] as number;
    }
  }
  return { i, at };
}

const ESCAPED_TAIL = JSON.stringify(ENVELOPE_TAIL).slice(1, -1);

const PREBUILT_BODY = { step: 'build', priority: 'high', name: 'bulkImportPrebuiltBody' } as const;

function prebuiltBody(body: Buffer): BuildMiddleware<SendMessageBatchCommandInput, SendMessageBatchCommandOutput> {
  return (next) => (args) => {
    const request = args.request as { body?: unknown; headers?: Record<string, string> };
    request.body = body;
    if (request.headers) request.headers['content-length'] = String(body.byteLength);
    return next(args);
  };
}

/**
 * The check the SDK makes on its own calls (and skips on this one, whose input lists no entries):
 * SQS answers each accepted entry with the MD5 of the body it stored (`md5`: requestBody's).
 */
export function bodyIntact(md5: string | undefined, entry: SendMessageBatchResultEntry): boolean {
  return md5 !== undefined && entry.MD5OfMessageBody === md5;
}
