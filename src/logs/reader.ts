// Reading a container's CRI log file for `/containerLogs/...` (upstream kuberuntime/logs ReadLogs):
// decode the records, apply tailLines / sinceTime / limitBytes / timestamps / stream, and with
// follow keep streaming until the client goes away or the container stops, across log rotations.
//
// Memory: a reader holds one READ_BUFFER_BYTES read buffer and one output buffer (twice that),
// whatever the file or line sizes; it hands the client one copy of the used part of the output
// buffer at a time and waits for 'drain' when the client is slow. So many concurrent (follow)
// readers cost a fixed amount each, and a huge file is never loaded into memory.
//
// Safety: the log path comes from the runtime. It must lie inside the node's pod log folder (the
// real path of its parent folder, checked again on the opened descriptor), and the file is opened
// with O_NOFOLLOW: a log file replaced by a symbolic link is refused, never followed.
//
// Index:
//   READ_BUFFER_BYTES, DEFAULT_FOLLOW_POLL_MS, DEFAULT_RUNNING_CHECK_MS
//   interface ReadContainerLogOptions
//   readContainerLog(opts): Promise<void>
//   interface OpenedLogFile; openContainerLogFile(path, allowedDir): Promise<OpenedLogFile>
//   findTailRange(file, size, lines, buf): Promise<{ start; end }>
//   interface DecodeFilter; class CriLogDecoder
import { constants, watch, type FSWatcher } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { realClock, type Clock } from '../common/clock.ts';
import { KubeletError, errorMessage, invalidInput, isInvalidInput, isNotFound, notFound } from '../common/errors.ts';
import { MAX_CRI_HEADER_BYTES, compareLogTime, parseCriHeader, type LogTime } from './cri-format.ts';
import type { LogOptions, LogStreamSelector } from './options.ts';

/** Bytes read from the log file at a time (also the backwards step of tailLines). */
export const READ_BUFFER_BYTES = 16 * 1024;
/** How often a follower looks for new data when no file event came (upstream logForceCheckPeriod). */
export const DEFAULT_FOLLOW_POLL_MS = 1000;
/** How often, at most, a follower asks whether the container still runs while it is idle. */
export const DEFAULT_RUNNING_CHECK_MS = 1000;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const NEWLINE_BYTES = Buffer.from('\n');

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodeFilter {
  since: LogTime | null;
  stream: LogStreamSelector;
  timestamps: boolean;
  limitBytes: number | null;
}

// Decoder modes: reading a record's header, its content, or skipping a malformed line.
const MODE_HEADER = 0;
const MODE_CONTENT = 1;
const MODE_SKIP = 2;

/**
 * Decodes a CRI log byte stream pushed in chunks of any size into the output bytes: content only,
 * optionally prefixed by the timestamp, partial records joined, malformed lines skipped, lines of
 * the other stream or before `since` dropped, and the output cut exactly at `limitBytes`.
 * Holds at most MAX_CRI_HEADER_BYTES of state. No I/O.
 */
export class CriLogDecoder {
  private readonly filter: DecodeFilter;
  private readonly header = Buffer.alloc(MAX_CRI_HEADER_BYTES);
  private headerLength = 0;
  private spaces = 0;
  private mode = MODE_HEADER;
  private emitting = false;
  private partial = false;
  private remaining: number;

  constructor(filter: DecodeFilter) {
    this.filter = filter;
    this.remaining = filter.limitBytes ?? Infinity;
  }

  /** True once limitBytes bytes were produced: nothing more will be. */
  get done(): boolean {
    return this.remaining <= 0;
  }

  /** Forgets a record cut short (the file ended or was replaced): the next byte starts a record. */
  resetRecord(): void {
    this.mode = MODE_HEADER;
    this.headerLength = 0;
    this.spaces = 0;
  }

  /**
   * Decodes `chunk`, handing output pieces to `emit` in order. Pieces may be views of `chunk`:
   * the caller copies them before reusing the chunk's memory.
   */
  push(chunk: Uint8Array, emit: (piece: Uint8Array) => void): void {
    const out = (piece: Uint8Array): void => {
      if (this.remaining <= 0 || piece.length === 0) return;
      if (piece.length > this.remaining) piece = piece.subarray(0, this.remaining);
      this.remaining -= piece.length;
      emit(piece);
    };
    const len = chunk.length;
    let i = 0;
    while (i < len && this.remaining > 0) {
      if (this.mode === MODE_HEADER) {
        for (; i < len; i++) {
          const b = chunk[i];
          if (b === NEWLINE) {
            // A line that ends inside its header is malformed: skip it.
            this.resetRecord();
            i++;
            break;
          }
          if (this.headerLength === MAX_CRI_HEADER_BYTES) {
            this.mode = MODE_SKIP;
            break;
          }
          this.header[this.headerLength++] = b;
          if (b === SPACE && ++this.spaces === 3) {
            i++;
            this.startRecord(out);
            break;
          }
        }
      } else {
        const nl = chunk.indexOf(NEWLINE, i);
        const stop = nl < 0 ? len : nl;
        if (this.mode === MODE_CONTENT && this.emitting) out(chunk.subarray(i, stop));
        if (nl < 0) {
          i = len;
        } else {
          if (this.mode === MODE_CONTENT && this.emitting && !this.partial) out(NEWLINE_BYTES);
          i = nl + 1;
          this.resetRecord();
        }
      }
    }
  }

  private startRecord(out: (piece: Uint8Array) => void): void {
    const header = parseCriHeader(this.header.subarray(0, this.headerLength));
    this.headerLength = 0;
    this.spaces = 0;
    if (!header) {
      this.mode = MODE_SKIP;
      return;
    }
    this.mode = MODE_CONTENT;
    this.partial = header.partial;
    const { since, stream, timestamps } = this.filter;
    const wantedStream = stream === 'All' || (stream === 'Stdout' ? header.stream === 'stdout' : header.stream === 'stderr');
    this.emitting = wantedStream && (since === null || compareLogTime(header.time, since) >= 0);
    if (this.emitting && timestamps) out(Buffer.from(`${header.timestampText} `, 'latin1'));
  }
}

// ---------------------------------------------------------------------------------------------
// Opening safely

export interface OpenedLogFile {
  handle: FileHandle;
  /** The path opened: the real parent folder joined with the file name. */
  path: string;
  ino: bigint;
  dev: bigint;
  size: number;
}

function isInside(path: string, dir: string): boolean {
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return path.startsWith(prefix);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Opens a container log file for reading, refusing anything outside `allowedDir` and symbolic
 * links. Throws NotFound when the file (or its folder) does not exist, InvalidInput when the path
 * is unsafe (outside the folder, a symbolic link, not a regular file).
 */
export async function openContainerLogFile(path: string, allowedDir: string): Promise<OpenedLogFile> {
  if (!path || path.includes('\0') || !isAbsolute(path)) throw invalidInput(`unsafe container log path ${JSON.stringify(path)}: must be absolute`);
  const wanted = resolve(path);
  const name = basename(wanted);
  let realAllowed: string;
  let realParent: string;
  try {
    realAllowed = await realpath(allowedDir);
    realParent = await realpath(dirname(wanted));
  } catch (err) {
    if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') throw notFound(`container log file ${path} does not exist`, err);
    throw new KubeletError('Internal', `resolving container log path ${path}: ${errorMessage(err)}`, { cause: err });
  }
  const real = join(realParent, name);
  if (!isInside(real, realAllowed)) throw invalidInput(`refusing to read container log ${path}: it is outside the pod log folder ${allowedDir}`);
  let handle: FileHandle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (code(err) === 'ENOENT') throw notFound(`container log file ${path} does not exist`, err);
    if (code(err) === 'ELOOP') throw invalidInput(`refusing to read container log ${path}: it is a symbolic link`, err);
    throw new KubeletError('Internal', `opening container log ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) throw invalidInput(`refusing to read container log ${path}: not a regular file`);
    // A folder on the way may have been swapped for a link after realpath: check what was opened.
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (opened !== null && !isInside(opened.replace(/ \(deleted\)$/, ''), realAllowed)) {
      throw invalidInput(`refusing to read container log ${path}: it is outside the pod log folder ${allowedDir}`);
    }
    return { handle, path: real, ino: st.ino, dev: st.dev, size: Number(st.size) };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// tailLines

async function readAt(handle: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * Where the last `lines` complete lines of a CRI log start and end. A line is complete when its
 * full (F) record is written; its partial records and any malformed lines in between belong to it.
 * `end` is the end of the last full record (records after it are a line still being written),
 * `start` the first byte after the full record before those `lines` lines (0 if the file has
 * fewer). Reads the file backwards in `buf`-sized steps and stops as soon as it has counted.
 */
export async function findTailRange(handle: FileHandle, size: number, lines: number, buf: Buffer): Promise<{ start: number; end: number }> {
  let end = -1;
  let counted = 0;
  let recordEnd = -1; // end (after its '\n') of the record whose start is being looked for
  const header = Buffer.allocUnsafe(MAX_CRI_HEADER_BYTES);

  // Returns the start offset once found.
  // Looks at the record [start, stop): the buffer holds the file's bytes from bufStart on.
  const visit = async (start: number, stop: number, bufStart: number, bufLength: number): Promise<number | null> => {
    const want = Math.min(MAX_CRI_HEADER_BYTES, stop - start);
    let bytes: Uint8Array;
    if (start + want <= bufStart + bufLength) {
      bytes = buf.subarray(start - bufStart, start - bufStart + want);
    } else {
      bytes = header.subarray(0, await readAt(handle, header, want, start));
    }
    let spaces = 0;
    let headerLength = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === SPACE && ++spaces === 3) {
        headerLength = i + 1;
        break;
      }
    }
    const parsed = headerLength < 0 ? null : parseCriHeader(bytes.subarray(0, headerLength));
    if (!parsed || parsed.partial) return null;
    if (end < 0) end = stop;
    if (counted === lines) return stop;
    counted++;
    return null;
  };

  let chunkEnd = size;
  let chunkLength = 0;
  while (chunkEnd > 0) {
    const chunkStart = Math.max(0, chunkEnd - buf.length);
    chunkLength = await readAt(handle, buf, chunkEnd - chunkStart, chunkStart);
    for (let i = chunkLength - 1; i >= 0; i--) {
      if (buf[i] !== NEWLINE) continue;
      const next = chunkStart + i + 1;
      if (recordEnd >= 0) {
        const start = await visit(next, recordEnd, chunkStart, chunkLength);
        if (start !== null) return { start, end };
      }
      recordEnd = next;
    }
    chunkEnd = chunkStart;
  }
  if (recordEnd > 0) {
    const start = await visit(0, recordEnd, 0, chunkLength); // the buffer holds the first chunk
    if (start !== null) return { start, end };
  }
  return { start: 0, end: Math.max(end, 0) };
}

// ---------------------------------------------------------------------------------------------
// Reading and following

export interface ReadContainerLogOptions {
  /** The container's log path as the runtime reports it (untrusted). */
  path: string;
  /** The node's pod log folder (podLogsDir): the path must lie inside it. */
  allowedDir: string;
  options: LogOptions;
  out: Writable;
  /** Aborting ends the read (the client went away); readContainerLog then resolves. */
  signal: AbortSignal;
  clock?: Clock;
  /** With follow: whether the container still runs; once it does not, the rest is read and the call returns. */
  containerRunning?: () => Promise<boolean>;
  /** With follow: the poll period when no file event arrives. Default DEFAULT_FOLLOW_POLL_MS. */
  pollMs?: number;
  /** With follow: least time between two containerRunning calls. Default DEFAULT_RUNNING_CHECK_MS. */
  runningCheckMs?: number;
}

/**
 * Writes the decoded log of one container to `out` (it does not end `out`). Resolves when done:
 * the end of the file without follow; with follow, once the container is no longer running and the
 * rest is read, or when `signal` aborts, or when `out` closes; early when limitBytes is reached.
 * Throws (before writing anything) NotFound when the file is missing and InvalidInput for an unsafe
 * path; while following, InvalidInput if the rotated-in file at the path is unsafe; Internal for an
 * I/O error while reading.
 */
export async function readContainerLog(opts: ReadContainerLogOptions): Promise<void> {
  if (opts.signal.aborted) return;
  const file = await openContainerLogFile(opts.path, opts.allowedDir);
  const reader = new LogFileReader(opts, file);
  try {
    await reader.run();
  } catch (err) {
    if (isNotFound(err) || isInvalidInput(err)) throw err;
    throw new KubeletError('Internal', `reading container log ${opts.path}: ${errorMessage(err)}`, { cause: err });
  }
}

class LogFileReader {
  private readonly opts: ReadContainerLogOptions;
  private readonly clock: Clock;
  private readonly decoder: CriLogDecoder;
  private readonly buf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private outBuf = Buffer.allocUnsafe(2 * READ_BUFFER_BYTES);
  private outLength = 0;
  private file: OpenedLogFile;
  private pos = 0;
  private end = Infinity;
  private outClosed = false;
  private watcher: FSWatcher | undefined;
  private watchFailed = false;
  private wakePending = false;
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;

  constructor(opts: ReadContainerLogOptions, file: OpenedLogFile) {
    this.opts = opts;
    this.file = file;
    this.clock = opts.clock ?? realClock;
    const { since, stream, timestamps, limitBytes } = opts.options;
    this.decoder = new CriLogDecoder({ since, stream, timestamps, limitBytes });
  }

  private readonly onOutClosed = (): void => {
    this.outClosed = true;
    this.wakeUp();
    this.drained?.();
  };

  private readonly collect = (piece: Uint8Array): void => {
    if (this.outLength + piece.length > this.outBuf.length) {
      // Not reached with READ_BUFFER_BYTES chunks (decoded output is at most ~1.2x the input), kept for safety.
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.outBuf.length, this.outLength + piece.length));
      this.outBuf.copy(bigger, 0, 0, this.outLength);
      this.outBuf = bigger;
    }
    this.outBuf.set(piece, this.outLength);
    this.outLength += piece.length;
  };

  async run(): Promise<void> {
    const { out } = this.opts;
    out.on('close', this.onOutClosed);
    out.on('error', this.onOutClosed);
    try {
      const { tailLines, follow } = this.opts.options;
      if (tailLines !== null) {
        const range = await findTailRange(this.file.handle, this.file.size, tailLines, this.buf);
        this.pos = range.start;
        if (!follow) this.end = range.end;
      }
      await this.loop();
    } finally {
      out.off('close', this.onOutClosed);
      out.off('error', this.onOutClosed);
      this.closeWatcher();
      await this.file.handle.close().catch(() => undefined);
    }
  }

  private stopped(): boolean {
    return this.opts.signal.aborted || this.outClosed || this.decoder.done;
  }

  private async loop(): Promise<void> {
    const { follow } = this.opts.options;
    const pollMs = this.opts.pollMs ?? DEFAULT_FOLLOW_POLL_MS;
    const runningCheckMs = this.opts.runningCheckMs ?? DEFAULT_RUNNING_CHECK_MS;
    let lastRunningCheck = -Infinity;
    let lastPass = false; // the container stopped: read what is left, then return
    let replaced = false; // a new file is at the path: finish this one, then switch
    for (;;) {
      if (this.stopped()) return;
      const n = await this.readChunk();
      if (n > 0) {
        this.pos += n;
        this.decoder.push(this.buf.subarray(0, n), this.collect);
        await this.flush();
        continue;
      }
      // The end of the data, for now.
      if (!follow || lastPass) return;
      if (replaced) {
        replaced = false;
        await this.switchFile();
        continue;
      }
      const change = await this.checkFile();
      if (change === 'replaced') {
        replaced = true; // one more pass over the old file first: its last lines
        continue;
      }
      if (change === 'truncated') {
        this.pos = 0;
        this.decoder.resetRecord();
        continue;
      }
      if (this.opts.containerRunning && this.clock.now() - lastRunningCheck >= runningCheckMs) {
        lastRunningCheck = this.clock.now();
        if (!(await this.isRunning())) {
          lastPass = true;
          continue;
        }
      }
      this.ensureWatcher();
      await this.waitForChange(pollMs);
    }
  }

  private async readChunk(): Promise<number> {
    const want = Math.min(this.buf.length, this.end - this.pos);
    if (want <= 0) return 0;
    const { bytesRead } = await this.file.handle.read(this.buf, 0, want, this.pos);
    return bytesRead;
  }

  /** Hands the output gathered so far to the client, waiting while it is slow. */
  private async flush(): Promise<void> {
    if (this.outLength === 0) return;
    const data = Buffer.from(this.outBuf.subarray(0, this.outLength));
    this.outLength = 0;
    const { out } = this.opts;
    if (out.destroyed || out.writableEnded) {
      this.outClosed = true;
      return;
    }
    if (!out.write(data)) await this.waitForDrain();
  }

  private waitForDrain(): Promise<void> {
    const { out, signal } = this.opts;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        signal.removeEventListener('abort', done);
        this.drained = undefined;
        resolve();
      };
      this.drained = done;
      out.on('drain', done);
      signal.addEventListener('abort', done, { once: true });
      if (this.outClosed) done();
    });
  }

  private async isRunning(): Promise<boolean> {
    try {
      return (await this.opts.containerRunning?.()) ?? true;
    } catch {
      return false; // the container is gone or the runtime cannot tell: stop following
    }
  }

  /** Compares the file at the path with the one being read: rotated away and replaced, truncated, or the same. */
  private async checkFile(): Promise<'same' | 'replaced' | 'truncated'> {
    let st;
    try {
      st = await lstat(this.file.path, { bigint: true });
    } catch {
      return 'same'; // renamed away and not yet recreated: the runtime may still write to the old file
    }
    if (st.ino !== this.file.ino || st.dev !== this.file.dev) return 'replaced';
    return Number(st.size) < this.pos ? 'truncated' : 'same';
  }

  private async switchFile(): Promise<void> {
    let next: OpenedLogFile;
    try {
      next = await openContainerLogFile(this.opts.path, this.opts.allowedDir);
    } catch (err) {
      if (isNotFound(err)) return; // gone again: keep waiting
      throw err;
    }
    await this.file.handle.close().catch(() => undefined);
    this.file = next;
    this.pos = 0;
    this.decoder.resetRecord();
    this.closeWatcher();
    this.watchFailed = false;
  }

  private wakeUp(): void {
    if (this.wake) this.wake();
    else this.wakePending = true;
  }

  private ensureWatcher(): void {
    if (this.watcher || this.watchFailed) return;
    try {
      const watcher = watch(this.file.path, { persistent: false }, () => this.wakeUp());
      watcher.on('error', () => {
        this.closeWatcher();
        this.watchFailed = true;
      });
      this.watcher = watcher;
    } catch {
      this.watchFailed = true; // e.g. out of inotify watches: polling alone
    }
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Waits for a file event, `ms`, the abort or the client going away. */
  private waitForChange(ms: number): Promise<void> {
    if (this.wakePending || this.stopped()) {
      this.wakePending = false;
      return Promise.resolve();
    }
    const { signal } = this.opts;
    return new Promise<void>((resolve) => {
      const timer = new AbortController();
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        if (this.wake === finish) this.wake = undefined;
        signal.removeEventListener('abort', finish);
        timer.abort();
        resolve();
      };
      this.wake = finish;
      signal.addEventListener('abort', finish, { once: true });
      this.clock.sleep(ms, timer.signal).then(finish, () => undefined);
    });
  }
}
