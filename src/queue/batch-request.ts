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

/**
 * The request body SQS's JSON protocol expects, entry i holding messages[i] with Id "i". Each
 * piece is written as soon as it is made, so at most one message's escaped text is alive at a
 * time and it dies young; the buffer is sized from the payload (rows' quotes escaped add ~10 %)
 * and grows only for unusually escape-heavy rows.
 */
export function requestBody(queueUrl: string, messages: readonly PackedMessage[]): Buffer {
  let size = 256 + queueUrl.length;
  for (const m of messages) size += Math.ceil(m.bytes * 1.25) + 64;
  let out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  const write = (text: string) => {
    const bytes = Buffer.byteLength(text);
    if (at + bytes > out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + bytes));
      out.copy(grown, 0, 0, at);
      out = grown;
    }
    at += out.write(text, at);
  };
  write(`{"QueueUrl":${JSON.stringify(queueUrl)},"Entries":[`);
  messages.forEach((m, i) => {
    write(`${i > 0 ? ',' : ''}{"Id":"${i}","MessageBody":${ESCAPED_HEAD(m.meta.job)}`);
    m.parts.forEach((part, k) => {
      if (k > 0) write(',');
      // The escaped text without its quotes: a slice of the string, not a copy of it.
      write(JSON.stringify(part).slice(1, -1));
    });
    write(`${ESCAPED_TAIL}"`);
    write(`,"MessageAttributes":${JSON.stringify(envelopeAttributes(m.meta))}}`);
  });
  write(']}');
  return out.subarray(0, at);
}

/** The envelope's head as it stands inside a JSON string, opening quote included. */
const ESCAPED_HEAD = (job: string) => JSON.stringify(envelopeHead(job)).slice(0, -1);
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
 * SQS answers each accepted entry with the MD5 of the body it stored. Hashed from the message's parts,
 * so no body string is made for it.
 */
export function bodyIntact(message: PackedMessage, entry: SendMessageBatchResultEntry): boolean {
  const md5 = createHash('md5').update(envelopeHead(message.meta.job));
  message.parts.forEach((part, k) => {
    if (k > 0) md5.update(',');
    md5.update(part, 'utf8');
  });
  return entry.MD5OfMessageBody === md5.update(ENVELOPE_TAIL).digest('hex');
}
