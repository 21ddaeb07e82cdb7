/**
 * The one way acr-guard reads an operator's file from disk (policy, trust policy, trust store certificates,
 * alert rules, `--deployed` lists): at most `maxBytes + 1` bytes are read, BEFORE anything parses them, so
 * `/dev/zero`, an endless FIFO or a huge file costs at most the limit in memory and time. More than the limit
 * is `FILE_TOO_LARGE` naming the file, the limit and the setting or option that named the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ErrorCodes, GuardError } from '../core/errors';

/** Default bound of an operator file (policy, trust policy, `--deployed`): 1 MiB. */
export const MAX_OPERATOR_FILE_BYTES = 1024 * 1024;

/** Options of {@link readBoundedFileSync} and {@link readBoundedFile}. */
export interface BoundedReadOptions {
  /** Most bytes accepted; one byte more is `FILE_TOO_LARGE`. */
  maxBytes: number;
  /** The setting or option that named the file (the error's `field`), e.g. `--policy` or `ACR_GUARD_POLICY_FILE`. */
  field: string;
  /** What the file is, for messages (`policy file`, `trust policy`). */
  what: string;
}

const CHUNK = 64 * 1024;

function tooLarge(path: string, options: BoundedReadOptions): GuardError {
  return new GuardError(
    ErrorCodes.FILE_TOO_LARGE,
    `${options.field}: the ${options.what} ${path} is larger than ${options.maxBytes} bytes (the limit); nothing was parsed. Point it at the intended file`,
    { field: options.field },
  );
}

function unreadable(path: string, options: BoundedReadOptions, err: unknown): GuardError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new GuardError(
    ErrorCodes.INVALID_CONFIG,
    `${options.field}: cannot read ${options.what} ${path} (${typeof code === 'string' ? code : 'error'})`,
    { field: options.field, cause: err },
  );
}

/** Reads a whole file of at most `maxBytes` bytes (synchronously); stops reading at `maxBytes + 1`. */
export function readBoundedFileSync(path: string, options: BoundedReadOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw unreadable(path, options, err);
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(options.maxBytes + 1, CHUNK));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(buf.length, options.maxBytes + 1 - total);
      let n: number;
      try {
        n = readSync(fd, buf, 0, want, null);
      } catch (err) {
        throw unreadable(path, options, err);
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > options.maxBytes) throw tooLarge(path, options);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** {@link readBoundedFileSync} as UTF-8 text. */
export function readBoundedTextSync(path: string, options: BoundedReadOptions): string {
  return readBoundedFileSync(path, options).toString('utf8');
}

/** Reads a whole file of at most `maxBytes` bytes (asynchronously); stops reading at `maxBytes + 1`. */
export async function readBoundedFile(path: string, options: BoundedReadOptions): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, options, err);
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(options.maxBytes + 1, CHUNK));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(buf.length, options.maxBytes + 1 - total);
      let n: number;
      try {
        n = (await handle.read(buf, 0, want, null)).bytesRead;
      } catch (err) {
        throw unreadable(path, options, err);
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > options.maxBytes) throw tooLarge(path, options);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}
