#!/usr/bin/env node
// Bundles the Lambda forwarder: src/lambda/handler.ts → dist/lambda/forwarder.mjs (one ESM file
// for the nodejs22.x runtime) → dist/lambda/forwarder.zip (handler: forwarder.handler).
//
// The AWS SDK is left out (external): the forwarder needs no SQS client (Lambda's event source
// mapping does the polling), and the SSM / Secrets Manager clients used for secret headers ship
// with the nodejs22.x runtime. The zip is written here with node:zlib, so no `zip` tool is needed,
// and with fixed timestamps, so the same source gives the same bytes (and the same CodeSha256).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildLambda({ outDir = join(root, 'dist', 'lambda') } = {}) {
  const bundle = join(outDir, 'forwarder.mjs');
  await build({
    entryPoints: [join(root, 'src', 'lambda', 'handler.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    external: ['@aws-sdk/*'],
    // Bundled CommonJS (undici) calls require() for Node built-ins; an ES module has none.
    banner: {
      js: "import { createRequire as __bulkImportRequire } from 'node:module';\nconst require = __bulkImportRequire(import.meta.url);",
    },
    legalComments: 'none',
    logLevel: 'warning',
  });
  const zip = join(outDir, 'forwarder.zip');
  await mkdir(outDir, { recursive: true });
  await writeFile(zip, zipOf([{ name: 'forwarder.mjs', data: await readFile(bundle) }]));
  return { bundle, zip };
}

/** A zip archive (deflate, no extras) of the given files. */
export function zipOf(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const packed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(0, 10); // time 00:00:00
    local.writeUInt16LE(0x21, 12); // date 1980-01-01: fixed, for reproducible bytes
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); // central directory header
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    local.copy(central, 6, 4, 30); // version needed … extra length: the local header's fields, in the same order
    central.writeUInt16LE(0, 32); // comment length
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { bundle, zip } = await buildLambda();
  const size = (p) => readFile(p).then((b) => `${(b.length / 1024).toFixed(0)} KiB`);
  const rel = (p) => p.slice(root.length + 1);
  process.stdout.write(`built ${rel(bundle)} (${await size(bundle)}) and ${rel(zip)} (${await size(zip)})\n`);
}
