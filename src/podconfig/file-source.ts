// The static pod source: pods described by manifest files in a folder (the kubelet's
// staticPodPath), after upstream's pkg/kubelet/config/file.go. It sends full snapshots of the
// valid pods: one at start (even empty, so consumers know the source is synced), then one each
// time the set of pods changes, found by an fs.watch on the folder (debounced; the folder is
// scanned once more right after a watch starts, for what changed before it) and by a periodic
// rescan as a safety net (inotify misses events on some file systems, and a folder that appears
// later is only noticed by the rescan).
//
// Decisions:
// - A file that stops parsing or validating keeps the pods of its last good version, so that an
//   editor's half-written save never kills a running pod; the problem is logged. A removed file
//   removes its pods. (After a restart of the agent a still-broken file gives no pods: there is
//   no last good version any more.) A file is all or nothing: with any invalid document, none of
//   its new documents is used.
// - Two files defining the same pod (namespace/name): the first by file name order wins, the
//   other is logged as an error.
// - Hidden files (name starting with '.') are skipped, as upstream (editors' swap files);
//   directories are not recursed into; symlinks to regular files are followed; FIFOs, devices
//   and sockets are skipped; files over MAX_MANIFEST_BYTES are refused.
// - A missing folder is not an error: it gives an empty snapshot and is retried at each rescan;
//   nothing is created. Any other error reading the folder keeps the last snapshot.
import { createHash } from 'node:crypto';
import { constants, watch, type FSWatcher } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Pod } from '../kube/types.ts';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../observability/logger.ts';
import { errorMessage } from '../common/errors.ts';
import { MAX_MANIFEST_BYTES, parseManifestFile, withConfigSeen, type ParsedManifest } from './manifest.ts';

/**
 * Wait after a file system event before rescanning (ms). None: the scan loop coalesces by itself
 * (events during a scan mark the source dirty and one more scan follows), an editor's
 * half-written save keeps the last good pods, and every millisecond here delays each pod start
 * (the start-up benchmark measured 100 ms of a 240 ms overhead here).
 */
export const WATCH_DEBOUNCE_MS = 0;

/** Key of the static pod path's own problem in FileSource.problems (file keys are absolute paths). */
const PATH_PROBLEM = '';

export interface FileSourceDeps {
  /** The static pod path: a folder of manifests (or a single manifest file, as upstream allows). */
  dir: string;
  nodeName: string;
  logger: Logger;
  clock: Clock;
  /** Period of the safety-net rescan (ms); upstream's fileCheckFrequency, 20 s by default. */
  fileCheckFrequencyMs: number;
  /** Receives each full snapshot of the valid pods, synchronously; must not throw. */
  onPods: (pods: Pod[]) => void;
}

/** What one scan found in one manifest file. */
export type FileScan =
  | { file: string; status: 'parsed'; pods: Pod[]; errors: string[] }
  | { file: string; status: 'unreadable'; reason: string };

export interface PodSelection {
  /** The pods to run, in file order. */
  pods: Pod[];
  /** Per file, the pods of its last good version (the state for the next selection). */
  lastGood: Map<string, Pod[]>;
  /** Files with problems whose last good pods were kept. */
  kept: string[];
  /** Pods dropped because an earlier file defines the same namespace/name. */
  duplicates: { file: string; pod: string; firstFile: string }[];
}

/**
 * Chooses the pods of a scan (files in name order): a file without problems gives its pods; a
 * file with problems (unreadable, or any invalid document) gives the pods of its last good
 * version, if any; files absent from `scans` are forgotten; a namespace/name already given by an
 * earlier file is dropped. Pure.
 */
export function selectPods(scans: readonly FileScan[], lastGood: ReadonlyMap<string, Pod[]>): PodSelection {
  const selection: PodSelection = { pods: [], lastGood: new Map(), kept: [], duplicates: [] };
  const owners = new Map<string, string>();
  for (const scan of scans) {
    let pods: Pod[] = [];
    if (scan.status === 'parsed' && scan.errors.length === 0) {
      pods = scan.pods;
      selection.lastGood.set(scan.file, pods);
    } else {
      const previous = lastGood.get(scan.file);
      if (previous !== undefined) {
        pods = previous;
        selection.lastGood.set(scan.file, previous);
        selection.kept.push(scan.file);
      }
    }
    for (const pod of pods) {
      const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
      const firstFile = owners.get(key);
      if (firstFile !== undefined) {
        selection.duplicates.push({ file: scan.file, pod: key, firstFile });
        continue;
      }
      owners.set(key, scan.file);
      selection.pods.push(pod);
    }
  }
  return selection;
}

/** Watches the static pod path and sends snapshots of its pods; see the decisions above. */
export class FileSource {
  private readonly deps: FileSourceDeps;
  private readonly logger: Logger;
  private readonly dir: string;
  private lastGood = new Map<string, Pod[]>();
  /** Parse results by file, with the digest of the text they came from: unchanged files are not parsed again. */
  private readonly parsed = new Map<string, { digest: string; result: ParsedManifest }>();
  /** First-seen time (RFC 3339) by UID, so that a rescan does not change a pod. */
  private readonly seen = new Map<string, string>();
  /** Problems already logged, by file (or folder), so that each is logged once, not every rescan. */
  private problems = new Map<string, string>();
  private duplicatesLogged = new Set<string>();
  /** UIDs of the last snapshot sent; undefined before the first. */
  private lastSent: string | undefined;
  private watcher: FSWatcher | undefined;
  private watchedIno: number | undefined;
  private dirIno: number | undefined;
  private dirty = false;
  private debouncing = false;
  private wakeUp: (() => void) | undefined;

  constructor(deps: FileSourceDeps) {
    this.deps = deps;
    this.logger = deps.logger.child({ component: 'podconfig' });
    // Absolute, so that a pod's UID (which includes the path) does not depend on the working folder.
    this.dir = path.resolve(deps.dir);
  }

  /**
   * Scans at once, then on file system events and every fileCheckFrequencyMs, until `signal`
   * aborts; then resolves (never rejects: problems are logged).
   */
  async run(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        this.dirty = false;
        await this.scan();
        if (signal.aborted) break;
        // A watch reports only what changes after it started: a file removed or written between
        // this scan's reads and a new watch (the first one, or one on a replaced folder) would be
        // seen only by the rescan, fileCheckFrequency later. So a new watch is followed by a scan.
        if (this.ensureWatcher(signal)) continue;
        await this.waitForChange(signal);
      }
    } finally {
      this.closeWatcher();
    }
  }

  private async scan(): Promise<void> {
    let scans: FileScan[];
    try {
      const st = await fsp.stat(this.dir);
      this.dirIno = st.ino;
      if (st.isDirectory()) {
        const names = (await fsp.readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
        // Read in parallel (unchanged files are not parsed again), kept in name order.
        const read = await Promise.all(names.map((name) => this.readManifest(path.join(this.dir, name))));
        scans = read.filter((scan): scan is FileScan => scan !== undefined);
      } else {
        const scan = st.isFile() ? await this.readManifest(this.dir) : undefined;
        scans = scan === undefined ? [] : [scan];
      }
      this.problems.delete(PATH_PROBLEM);
    } catch (err) {
      this.dirIno = undefined;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.reportProblem(PATH_PROBLEM, 'does not exist', (reason) =>
          this.logger.warn({ path: this.dir, reason }, 'static pod path does not exist, retrying at each rescan'),
        );
        scans = [];
      } else {
        this.reportProblem(PATH_PROBLEM, errorMessage(err), (reason) =>
          this.logger.error({ path: this.dir, reason }, 'cannot read static pod path, keeping its last pods'),
        );
        if (this.lastSent === undefined) this.send([]);
        return;
      }
    }
    const selection = selectPods(scans, this.lastGood);
    this.lastGood = selection.lastGood;
    this.logScan(scans, selection);
    this.send(selection.pods);
  }

  /** Reads and parses one manifest; undefined when it is not one (vanished, a folder, a FIFO...). */
  private async readManifest(file: string): Promise<FileScan | undefined> {
    let text: string;
    try {
      const read = await readRegularFile(file);
      if (read.kind === 'skip') {
        this.logger.debug({ file, reason: read.reason }, 'ignoring entry of the static pod path');
        return undefined;
      }
      if (read.kind === 'unreadable') return { file, status: 'unreadable', reason: read.reason };
      text = read.text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed meanwhile, or a dangling link
      return { file, status: 'unreadable', reason: errorMessage(err) };
    }
    const digest = createHash('sha256').update(text).digest('hex');
    let entry = this.parsed.get(file);
    if (entry?.digest !== digest) {
      entry = { digest, result: parseManifestFile(file, text, this.deps.nodeName) };
      this.parsed.set(file, entry);
    }
    return { file, status: 'parsed', pods: entry.result.pods, errors: entry.result.errors };
  }

  private logScan(scans: FileScan[], selection: PodSelection): void {
    const present = new Set(scans.map((s) => s.file));
    for (const file of this.parsed.keys()) if (!present.has(file)) this.parsed.delete(file);
    for (const file of this.problems.keys()) if (file !== PATH_PROBLEM && !present.has(file)) this.problems.delete(file);
    for (const scan of scans) {
      const reason = scan.status === 'unreadable' ? scan.reason : scan.errors.join('; ');
      if (reason === '') {
        if (this.problems.delete(scan.file)) this.logger.info({ file: scan.file }, 'static pod manifest is valid again');
        continue;
      }
      const kept = selection.kept.includes(scan.file);
      this.reportProblem(scan.file, reason, () =>
        this.logger.error(
          { file: scan.file, reason },
          kept ? 'invalid static pod manifest, keeping the pods of its last valid version' : 'invalid static pod manifest, ignored',
        ),
      );
    }
    const duplicates = new Set<string>();
    for (const d of selection.duplicates) {
      const key = `${d.file}\n${d.pod}`;
      duplicates.add(key);
      if (!this.duplicatesLogged.has(key)) {
        this.logger.error(
          { file: d.file, reason: `pod ${d.pod} is already defined by ${d.firstFile}` },
          'duplicate static pod, ignored',
        );
      }
    }
    this.duplicatesLogged = duplicates;
  }

  private reportProblem(key: string, reason: string, log: (reason: string) => void): void {
    if (this.problems.get(key) === reason) return;
    this.problems.set(key, reason);
    log(reason);
  }

  /** Stamps the first-seen time and sends the snapshot when its pods differ from the last one sent. */
  private send(pods: Pod[]): void {
    const uids = pods.map((p) => p.metadata?.uid ?? '');
    for (const uid of this.seen.keys()) if (!uids.includes(uid)) this.seen.delete(uid);
    const key = uids.join(',');
    if (key === this.lastSent) return;
    const now = new Date(this.deps.clock.now()).toISOString();
    const stamped = pods.map((pod, i) => {
      const uid = uids[i] as string;
      let seen = this.seen.get(uid);
      if (seen === undefined) {
        seen = now;
        this.seen.set(uid, seen);
      }
      return withConfigSeen(pod, seen);
    });
    this.lastSent = key;
    this.logger.debug({ pods: stamped.length }, 'static pods changed');
    try {
      this.deps.onPods(stamped);
    } catch (err) {
      this.logger.error({ reason: errorMessage(err) }, 'static pod snapshot handler failed');
    }
  }

  /** Watches the folder scanned last (when it exists); true when this started a new watch. */
  private ensureWatcher(signal: AbortSignal): boolean {
    if (this.dirIno === undefined) {
      this.closeWatcher();
      return false;
    }
    if (this.watcher !== undefined && this.watchedIno === this.dirIno) return false;
    // Not watching yet, or the folder was replaced (an inotify watch follows the old inode).
    this.closeWatcher();
    try {
      const w = watch(this.dir, { persistent: true });
      w.on('change', () => this.onFsEvent(signal));
      w.on('error', (err) => {
        this.logger.debug({ path: this.dir, reason: errorMessage(err) }, 'watch of the static pod path failed');
        if (this.watcher === w) this.closeWatcher();
        this.onFsEvent(signal);
      });
      this.watcher = w;
      this.watchedIno = this.dirIno;
      return true;
    } catch (err) {
      this.logger.warn({ path: this.dir, reason: errorMessage(err) }, 'cannot watch the static pod path, relying on the periodic rescan');
      return false;
    }
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = undefined;
  }

  private onFsEvent(signal: AbortSignal): void {
    if (this.debouncing || signal.aborted) return;
    this.debouncing = true;
    void this.deps.clock.sleep(WATCH_DEBOUNCE_MS, signal).then(
      () => {
        this.debouncing = false;
        this.dirty = true;
        this.wakeUp?.();
      },
      () => {
        this.debouncing = false;
      },
    );
  }

  /** Resolves on the next debounced file system event, the next rescan time, or abort. */
  private async waitForChange(signal: AbortSignal): Promise<void> {
    if (this.dirty) return;
    const stop = new AbortController();
    try {
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.deps.clock.sleep(this.deps.fileCheckFrequencyMs, AbortSignal.any([signal, stop.signal])).then(resolve, () => resolve());
      });
    } finally {
      this.wakeUp = undefined;
      stop.abort();
    }
  }
}

type FileRead = { kind: 'text'; text: string } | { kind: 'skip'; reason: string } | { kind: 'unreadable'; reason: string };

/**
 * Reads a regular file of at most MAX_MANIFEST_BYTES. Opens without blocking and checks the
 * opened file itself, so a FIFO or a file swapped in after readdir can neither block nor slip
 * through. Throws the open's error (ENOENT for a vanished file).
 */
async function readRegularFile(file: string): Promise<FileRead> {
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return { kind: 'skip', reason: 'not recursing into a directory' };
    if (!st.isFile()) return { kind: 'skip', reason: 'not a regular file' };
    const tooLarge = `file is larger than the limit of ${MAX_MANIFEST_BYTES} bytes`;
    if (st.size > MAX_MANIFEST_BYTES) return { kind: 'unreadable', reason: tooLarge };
    const buf = Buffer.alloc(Math.min(st.size + 64 * 1024, MAX_MANIFEST_BYTES + 1));
    let length = 0;
    for (;;) {
      if (length === buf.length) break;
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_MANIFEST_BYTES) return { kind: 'unreadable', reason: tooLarge };
    if (length === buf.length) return { kind: 'unreadable', reason: 'file grew while being read' };
    return { kind: 'text', text: buf.toString('utf8', 0, length) };
  } finally {
    await fh.close();
  }
}
