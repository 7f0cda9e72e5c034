import { test, before, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isInvalidInput, isNotFound } from '../common/errors.ts';
import { DEFAULT_LOG_OPTIONS, type LogOptions } from './options.ts';
import { CriLogDecoder, READ_BUFFER_BYTES, readContainerLog, type DecodeFilter } from './reader.ts';

let root: string; // the pod log folder (allowedDir)
let outside: string;
let n = 0;

before(async () => {
  const base = await mkdtemp(join(tmpdir(), 'tskubelet-logs-'));
  root = join(base, 'pods');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
});
after(async () => {
  await rm(join(root, '..'), { recursive: true, force: true });
});

/** A fresh container log folder inside the pod log folder; returns the log file path. */
async function logFile(content: string): Promise<string> {
  const dir = join(root, `ns_pod${++n}_uid`, 'c');
  await mkdir(dir, { recursive: true });
  const path = join(dir, '0.log');
  await writeFile(path, content);
  return path;
}

const T = (s: number, frac = '000000000'): string => `2024-01-01T00:00:${String(s).padStart(2, '0')}.${frac}Z`;
const rec = (s: number, stream: 'stdout' | 'stderr', tag: 'F' | 'P', content: string): string => `${T(s)} ${stream} ${tag} ${content}\n`;

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  maxBuffered = 0;
  private readonly delayMs: number;
  constructor(opts: { highWaterMark?: number; delayMs?: number } = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 16 * 1024 });
    this.delayMs = opts.delayMs ?? 0;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    if (this.delayMs > 0) setTimeout(cb, this.delayMs);
    else cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

async function read(path: string, options: Partial<LogOptions> = {}, extra: Partial<Parameters<typeof readContainerLog>[0]> = {}): Promise<string> {
  const out = new Sink();
  await readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, ...options }, out, signal: new AbortController().signal, ...extra });
  return out.text();
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sample =
  rec(1, 'stdout', 'F', 'one') +
  rec(2, 'stderr', 'F', 'two') +
  rec(3, 'stdout', 'P', 'thr') +
  rec(3, 'stdout', 'P', 'e') +
  rec(4, 'stdout', 'F', 'e!') +
  'garbage that is not a CRI line\n' +
  rec(5, 'stderr', 'F', 'five');

// ---- the decoder

function decodeAll(input: string, filter: Partial<DecodeFilter>, chunkSize: number): string {
  const d = new CriLogDecoder({ since: null, stream: 'All', timestamps: false, limitBytes: null, ...filter });
  const bytes = Buffer.from(input);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) d.push(bytes.subarray(i, i + chunkSize), (p) => out.push(Buffer.from(p)));
  return Buffer.concat(out).toString();
}

test('decoder: content only, partial records joined, malformed lines skipped, at any chunking', () => {
  for (const size of [1, 2, 3, 7, 31, 64, 1000]) {
    assert.equal(decodeAll(sample, {}, size), 'one\ntwo\nthree!\nfive\n', `chunk ${size}`);
  }
});

test('decoder: timestamps prefix each record with the fixed RFC3339Nano time', () => {
  const input = '2024-01-01T00:00:01.5Z stdout F a\n2024-01-01T02:00:01+02:00 stdout P b\n2024-01-01T00:00:02Z stdout F c\n';
  assert.equal(
    decodeAll(input, { timestamps: true }, 5),
    '2024-01-01T00:00:01.500000000Z a\n2024-01-01T02:00:01.000000000+02:00 b2024-01-01T00:00:02.000000000Z c\n',
  );
});

test('decoder: stream and since filters, limit cut exactly', () => {
  assert.equal(decodeAll(sample, { stream: 'Stdout' }, 4), 'one\nthree!\n');
  assert.equal(decodeAll(sample, { stream: 'Stderr' }, 4), 'two\nfive\n');
  assert.equal(decodeAll(sample, { since: { seconds: Date.UTC(2024, 0, 1, 0, 0, 3) / 1000, nanos: 0 } }, 9), 'three!\nfive\n');
  for (let limit = 1; limit <= 20; limit++) {
    assert.equal(decodeAll(sample, { limitBytes: limit }, 3), 'one\ntwo\nthree!\nfive\n'.slice(0, limit), `limit ${limit}`);
  }
  assert.equal(decodeAll(sample, { limitBytes: 40, timestamps: true }, 3), `${T(1)} one\n${T(2)} `.slice(0, 40));
});

test('decoder: an over-long header is a malformed line, bounded', () => {
  const input = 'x'.repeat(100_000) + '\n' + rec(1, 'stdout', 'F', 'ok');
  assert.equal(decodeAll(input, {}, 1000), 'ok\n');
});

// ---- reading files

test('read: the whole file', async () => {
  assert.equal(await read(await logFile(sample)), 'one\ntwo\nthree!\nfive\n');
});

test('read: timestamps, since, limitBytes, stream', async () => {
  const path = await logFile(sample);
  assert.equal(await read(path, { timestamps: true, stream: 'Stderr' }), `${T(2)} two\n${T(5)} five\n`);
  assert.equal(await read(path, { since: { seconds: Date.UTC(2024, 0, 1, 0, 0, 2) / 1000, nanos: 1 } }), 'three!\nfive\n');
  assert.equal(await read(path, { limitBytes: 6 }), 'one\ntw');
});

test('read: a trailing record without its newline is written as it is (no follow)', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'a') + `${T(2)} stdout F unfinished`);
  assert.equal(await read(path), 'a\nunfinished');
});

test('tailLines: the last complete lines; partial records belong to their line', async () => {
  const path = await logFile(sample);
  assert.equal(await read(path, { tailLines: 0 }), '');
  assert.equal(await read(path, { tailLines: 1 }), 'five\n');
  assert.equal(await read(path, { tailLines: 2 }), 'three!\nfive\n');
  assert.equal(await read(path, { tailLines: 3 }), 'two\nthree!\nfive\n');
  assert.equal(await read(path, { tailLines: 4 }), 'one\ntwo\nthree!\nfive\n');
  assert.equal(await read(path, { tailLines: 100 }), 'one\ntwo\nthree!\nfive\n');
  assert.equal(await read(path, { tailLines: 2, timestamps: true }), `${T(3)} thr${T(3)} e${T(4)} e!\n${T(5)} five\n`);
});

test('tailLines: a line still being written (partial records, no newline yet) is not counted nor shown', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'a') + rec(2, 'stdout', 'F', 'b') + rec(3, 'stdout', 'P', 'still') + `${T(4)} stdout P go`);
  assert.equal(await read(path, { tailLines: 1 }), 'b\n');
  assert.equal(await read(path, { tailLines: 0 }), '');
  assert.equal(await read(path, { tailLines: 5 }), 'a\nb\n');
  assert.equal(await read(await logFile('')), '');
  assert.equal(await read(await logFile(''), { tailLines: 3 }), '');
  assert.equal(await read(await logFile(`${T(1)} stdout F x`), { tailLines: 3 }), '');
});

test('tailLines on a file larger than the read buffer, with lines longer than it', async () => {
  const lines: string[] = [];
  let text = '';
  for (let i = 0; i < 2000; i++) {
    const content = i % 97 === 0 ? `long-${i}-` + 'y'.repeat(READ_BUFFER_BYTES + 123) : `line-${i}`;
    lines.push(content + '\n');
    text += rec(i % 60, i % 3 === 0 ? 'stderr' : 'stdout', 'F', content);
  }
  const path = await logFile(text);
  for (const tail of [1, 5, 97, 98, 500, 1999, 2000, 5000]) {
    assert.equal(await read(path, { tailLines: tail }), lines.slice(-tail).join(''), `tail ${tail}`);
  }
  assert.equal(await read(path), lines.join(''));
});

test('read: a slow client gets everything in order and the reader respects backpressure', async () => {
  let text = '';
  let expected = '';
  for (let i = 0; i < 5000; i++) {
    text += rec(i % 60, 'stdout', 'F', `line ${i} ${'z'.repeat(i % 50)}`);
    expected += `line ${i} ${'z'.repeat(i % 50)}\n`;
  }
  const path = await logFile(text);
  const out = new Sink({ highWaterMark: 1024, delayMs: 1 });
  await readContainerLog({ path, allowedDir: root, options: DEFAULT_LOG_OPTIONS, out, signal: new AbortController().signal });
  await new Promise<void>((r) => out.end(r));
  assert.equal(out.text(), expected);
  // At most one output buffer beyond the high-water mark was ever queued.
  assert.ok(out.maxBuffered <= 1024 + 2 * READ_BUFFER_BYTES, `buffered ${out.maxBuffered}`);
});

test('read: stops when the client goes away', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'x'.repeat(100)).repeat(10_000));
  const out = new Sink({ highWaterMark: 100, delayMs: 5 });
  const done = readContainerLog({ path, allowedDir: root, options: DEFAULT_LOG_OPTIONS, out, signal: new AbortController().signal });
  await until(() => out.chunks.length > 0, 'the first chunk');
  out.destroy();
  await done;
  assert.ok(Buffer.concat(out.chunks).length < 1_010_000);
});

// ---- safety

test('a missing file is NotFound', async () => {
  await assert.rejects(read(join(root, 'nope', 'c', '0.log')), isNotFound);
  const path = await logFile('');
  await assert.rejects(read(path.replace('0.log', '1.log')), isNotFound);
});

test('a log file replaced by a symbolic link is refused, even to a file in the folder', async () => {
  const secret = join(outside, 'secret');
  await writeFile(secret, rec(1, 'stdout', 'F', 'secret'));
  const path = await logFile('');
  await rm(path);
  await symlink(secret, path);
  await assert.rejects(read(path), (err: unknown) => isInvalidInput(err) && /symbolic link/.test((err as Error).message));
  const inside = await logFile(rec(1, 'stdout', 'F', 'other container'));
  await rm(path);
  await symlink(inside, path);
  await assert.rejects(read(path), isInvalidInput);
});

test('a path outside the pod log folder is refused: .., absolute elsewhere, a linked folder', async () => {
  await writeFile(join(outside, '0.log'), rec(1, 'stdout', 'F', 'secret'));
  await assert.rejects(read(join(root, '..', 'outside', '0.log')), (err: unknown) => isInvalidInput(err) && /outside/.test((err as Error).message));
  await assert.rejects(read(join(outside, '0.log')), isInvalidInput);
  await symlink(outside, join(root, 'linked'));
  await assert.rejects(read(join(root, 'linked', '0.log')), isInvalidInput);
  await assert.rejects(read('relative/0.log'), isInvalidInput);
  await assert.rejects(read(root), isInvalidInput, 'the folder itself');
});

test('a directory or a FIFO at the log path is refused', async () => {
  const path = await logFile('');
  await rm(path);
  await mkdir(path);
  await assert.rejects(read(path), isInvalidInput);
  const fifo = await logFile('');
  await rm(fifo);
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(read(fifo), isInvalidInput, 'opened without blocking, then refused');
});

// ---- follow

test('follow: streams appended lines, then drains and returns once the container stops', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'before'));
  let running = true;
  const out = new Sink();
  const done = readContainerLog({
    path,
    allowedDir: root,
    options: { ...DEFAULT_LOG_OPTIONS, follow: true },
    out,
    signal: new AbortController().signal,
    containerRunning: () => Promise.resolve(running),
    pollMs: 20,
    runningCheckMs: 20,
  });
  await until(() => out.text() === 'before\n', 'the existing line');
  await appendFile(path, rec(2, 'stdout', 'P', 'hel'));
  await appendFile(path, rec(2, 'stdout', 'F', 'lo'));
  await until(() => out.text() === 'before\nhello\n', 'the appended line');
  await appendFile(path, `${T(3)} stderr F half`);
  await new Promise((r) => setTimeout(r, 50));
  await appendFile(path, ' done\n');
  await until(() => out.text() === 'before\nhello\nhalf done\n', 'a record written in two pieces');
  // The container stops after a last line: it is read, then the call returns.
  await appendFile(path, rec(4, 'stdout', 'F', 'last words'));
  running = false;
  await done;
  assert.equal(out.text(), 'before\nhello\nhalf done\nlast words\n');
});

test('follow: tailLines then new lines; abort ends it', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'a') + rec(2, 'stdout', 'F', 'b') + rec(3, 'stdout', 'P', 'c'));
  const ac = new AbortController();
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true, tailLines: 1 }, out, signal: ac.signal, pollMs: 20 });
  await until(() => out.text() === 'b\nc', 'the tail and the unfinished line');
  await appendFile(path, rec(4, 'stdout', 'F', 'd'));
  await until(() => out.text() === 'b\ncd\n', 'the rest of the line');
  ac.abort();
  await done;
});

test('follow: limitBytes ends the stream', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'abc'));
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true, limitBytes: 6 }, out, signal: new AbortController().signal, pollMs: 20 });
  await until(() => out.text() === 'abc\n', 'the first line');
  await appendFile(path, rec(2, 'stdout', 'F', 'defgh'));
  await done;
  assert.equal(out.text(), 'abc\nde');
});

test('follow: across a rotation, the old file is finished, then the new one is read', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'old 1'));
  const ac = new AbortController();
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true }, out, signal: ac.signal, pollMs: 20 });
  await until(() => out.text() === 'old 1\n', 'the first line');
  // The log manager renames the file; the runtime still writes its last line to it, then reopens.
  await rename(path, `${path}.20240101-000000`);
  await appendFile(`${path}.20240101-000000`, rec(2, 'stdout', 'F', 'old 2'));
  await new Promise((r) => setTimeout(r, 60));
  await writeFile(path, rec(3, 'stdout', 'F', 'new 1'));
  await until(() => out.text() === 'old 1\nold 2\nnew 1\n', 'the new file');
  await appendFile(path, rec(4, 'stdout', 'F', 'new 2'));
  await until(() => out.text() === 'old 1\nold 2\nnew 1\nnew 2\n', 'appends to the new file');
  // A second rotation.
  await rename(path, `${path}.20240101-000010`);
  await writeFile(path, rec(5, 'stdout', 'F', 'newer'));
  await until(() => out.text().endsWith('new 2\nnewer\n'), 'the second rotation');
  ac.abort();
  await done;
});

test('follow: a symbolic link rotated in at the path is refused, never read', async () => {
  const secret = join(outside, 'secret2');
  await writeFile(secret, rec(1, 'stdout', 'F', 'secret'));
  const path = await logFile(rec(1, 'stdout', 'F', 'mine'));
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true }, out, signal: new AbortController().signal, pollMs: 20 });
  await until(() => out.text() === 'mine\n', 'the first line');
  await rename(path, `${path}.old`);
  await symlink(secret, path);
  await assert.rejects(done, isInvalidInput);
  assert.equal(out.text(), 'mine\n');
});

test('follow: a truncated file (copytruncate) is read again from its start', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'first line that is long'));
  const ac = new AbortController();
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true }, out, signal: ac.signal, pollMs: 20 });
  await until(() => out.text() === 'first line that is long\n', 'the first line');
  await writeFile(path, rec(2, 'stdout', 'F', 'x'));
  await until(() => out.text() === 'first line that is long\nx\n', 'the line after truncation');
  ac.abort();
  await done;
});

test('follow: an exited container is read to the end and the call returns', async () => {
  const path = await logFile(sample);
  const out = new Sink();
  await readContainerLog({
    path,
    allowedDir: root,
    options: { ...DEFAULT_LOG_OPTIONS, follow: true },
    out,
    signal: new AbortController().signal,
    containerRunning: () => Promise.reject(new Error('container gone')),
    pollMs: 20,
  });
  assert.equal(out.text(), 'one\ntwo\nthree!\nfive\n');
});

test('follow: many concurrent followers each hold a bounded buffer and all end on abort', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'hello'));
  const ac = new AbortController();
  const sinks = Array.from({ length: 200 }, () => new Sink());
  const all = Promise.all(
    sinks.map((out) => readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true }, out, signal: ac.signal, pollMs: 50 })),
  );
  await until(() => sinks.every((s) => s.text() === 'hello\n'), 'every follower');
  await appendFile(path, rec(2, 'stdout', 'F', 'world'));
  await until(() => sinks.every((s) => s.text() === 'hello\nworld\n'), 'every follower to see the append');
  ac.abort();
  await all;
});

test('follow: file events wake the reader well before the poll period', async () => {
  const path = await logFile(rec(1, 'stdout', 'F', 'a'));
  const ac = new AbortController();
  const out = new Sink();
  const done = readContainerLog({ path, allowedDir: root, options: { ...DEFAULT_LOG_OPTIONS, follow: true }, out, signal: ac.signal, pollMs: 60_000 });
  await until(() => out.text() === 'a\n', 'the first line');
  await new Promise((r) => setTimeout(r, 20)); // the reader is now waiting
  await appendFile(path, rec(2, 'stdout', 'F', 'b'));
  await until(() => out.text() === 'a\nb\n', 'the appended line, through fs.watch', 2000);
  ac.abort();
  await done;
});
