// Container log rotation (upstream pkg/kubelet/logs ContainerLogManager): every intervalMs, for each
// running container whose current log file has reached containerLogMaxSize, drop the oldest rotated
// files so that at most containerLogMaxFiles files remain after this rotation, gzip the older
// rotated files (the newest rotated file stays plain so that readers and shippers can finish it),
// rename the current file to `<path>.<YYYYMMDD-hhmmss>` and ask the runtime to reopen the log
// (ReopenContainerLog); if that fails, rename the file back. Files left by an interrupted rotation
// (`.tmp`, and a plain file whose `.gz` exists) are removed.
//
// Index:
//   DEFAULT_LOG_MONITOR_INTERVAL_MS
//   rotationTimestamp(nowMs): string;  rotatedLogName(path, nowMs): string
//   isRotatedLogOf(base, name): boolean
//   interface LogRotationPlan; planLogRotation(base, names, maxFiles): LogRotationPlan
//   shouldRotate(sizeBytes, maxSizeBytes): boolean
//   compressLogFile(path, signal?): Promise<void>
//   type LogRotationRuntime; interface ContainerLogManagerDeps; interface LogRotator
//   class ContainerLogManager { run(signal); rotateOnce(signal) }
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Clock } from '../common/clock.ts';
import { runEvery } from '../common/periodic.ts';
import { errorMessage, invalidInput, isAbort, notFound, transient } from '../common/errors.ts';
import type { RuntimeService } from '../cri/client.ts';
import type { Logger } from '../observability/logger.ts';

/** Upstream containerLogMonitorInterval default (10 s): how often log sizes are checked. */
export const DEFAULT_LOG_MONITOR_INTERVAL_MS = 10_000;

const COMPRESS_SUFFIX = '.gz';
const TMP_SUFFIX = '.tmp';
const TIMESTAMP_PATTERN = '\\d{8}-\\d{6}';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The suffix of a rotated log (upstream timestampFormat "20060102-150405"), in UTC. */
export function rotationTimestamp(nowMs: number): string {
  const d = new Date(nowMs);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** The name the current log file gets when it is rotated at `nowMs`. */
export function rotatedLogName(path: string, nowMs: number): string {
  return `${path}.${rotationTimestamp(nowMs)}`;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const rotatedLogPattern = (base: string): RegExp => new RegExp(`^${escapeRegExp(base)}\\.${TIMESTAMP_PATTERN}(?:\\.gz)?(?:\\.tmp)?$`);

/** Whether `name` (a file name in the log's folder) is a rotated copy of the log named `base`, or a leftover of one. */
export function isRotatedLogOf(base: string, name: string): boolean {
  return rotatedLogPattern(base).test(name);
}

export interface LogRotationPlan {
  /** Leftovers of an interrupted rotation or compression: `.tmp` files, plain files whose `.gz` exists. */
  removeUnused: string[];
  /** The oldest rotated files, beyond what maxFiles allows once the current file is rotated too. */
  removeExcess: string[];
  /** The rotated files left uncompressed: compressed before the current file becomes the newest rotated one. */
  compress: string[];
}

/**
 * What to do with the files of the folder before rotating the log named `base` (names are file
 * names in that folder; others are ignored). After the plan and the rotation, the folder holds the
 * current file, the file just rotated and at most maxFiles - 2 older rotated files, compressed.
 */
export function planLogRotation(base: string, names: readonly string[], maxFiles: number): LogRotationPlan {
  const pattern = rotatedLogPattern(base);
  const ours = names.filter((name) => pattern.test(name));
  const present = new Set(ours);
  const removeUnused: string[] = [];
  const inUse: string[] = [];
  for (const name of ours) {
    if (name.endsWith(TMP_SUFFIX)) removeUnused.push(name);
    else if (!name.endsWith(COMPRESS_SUFFIX) && present.has(name + COMPRESS_SUFFIX)) removeUnused.push(name);
    else inUse.push(name);
  }
  inUse.sort(); // oldest first: the timestamps sort as text
  const keep = Math.max(maxFiles - 2, 0);
  const excess = Math.max(inUse.length - keep, 0);
  return {
    removeUnused: removeUnused.sort(),
    removeExcess: inUse.slice(0, excess),
    compress: inUse.slice(excess).filter((name) => !name.endsWith(COMPRESS_SUFFIX)),
  };
}

/** Upstream rotates once the file has reached the maximum size; a negative maximum disables rotation. */
export function shouldRotate(sizeBytes: number, maxSizeBytes: number): boolean {
  return maxSizeBytes >= 0 && sizeBytes >= maxSizeBytes;
}

/**
 * Compresses `path` to `path.gz` (through `path.tmp`, renamed when complete) and removes `path`.
 * Refuses a symbolic link or anything but a regular file (InvalidInput). On failure `path` stays.
 */
export async function compressLogFile(path: string, signal?: AbortSignal): Promise<void> {
  const tmp = path + TMP_SUFFIX;
  const input = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await input.stat();
    if (!st.isFile()) throw invalidInput(`refusing to compress ${path}: not a regular file`);
    const output = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, st.mode & 0o777);
    try {
      await pipeline(input.createReadStream(), createGzip(), output.createWriteStream(), signal ? { signal } : {});
    } finally {
      await output.close();
    }
    await rename(tmp, path + COMPRESS_SUFFIX);
    await unlink(path);
  } finally {
    await input.close();
    await rm(tmp, { force: true });
  }
}

/** The runtime calls rotation needs. */
export type LogRotationRuntime = Pick<RuntimeService, 'listContainers' | 'containerStatus' | 'reopenContainerLog'>;

export interface ContainerLogManagerDeps {
  runtime: LogRotationRuntime;
  clock: Clock;
  logger: Logger;
  /** containerLogMaxSize in bytes (upstream default 10 Mi); negative disables rotation. */
  maxSizeBytes: number;
  /** containerLogMaxFiles (upstream default 5): files per container log, current one included; at least 2. */
  maxFiles: number;
  /** containerLogMonitorInterval; default DEFAULT_LOG_MONITOR_INTERVAL_MS. */
  intervalMs?: number;
  /** The node's pod log folder: when set, a log path outside it (from the runtime) is never touched. */
  podLogsDir?: string;
}

export interface LogRotator {
  /** Rotates every intervalMs until `signal` aborts; resolves then. Never throws. */
  run(signal: AbortSignal): Promise<void>;
  /** One pass over the running containers. Throws only when the containers cannot be listed. */
  rotateOnce(signal: AbortSignal): Promise<void>;
}

export class ContainerLogManager implements LogRotator {
  private readonly deps: ContainerLogManagerDeps;
  private readonly log: Logger;
  private readonly intervalMs: number;
  /** Passes run one at a time (upstream's mutex). */
  private pass: Promise<void> = Promise.resolve();

  constructor(deps: ContainerLogManagerDeps) {
    if (!Number.isInteger(deps.maxFiles) || deps.maxFiles < 2) throw invalidInput(`invalid containerLogMaxFiles ${deps.maxFiles}: must be at least 2`);
    this.deps = deps;
    this.log = deps.logger.child({ component: 'container-log-manager' });
    this.intervalMs = deps.intervalMs ?? DEFAULT_LOG_MONITOR_INTERVAL_MS;
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.deps.maxSizeBytes < 0) return;
    await runEvery(this.deps.clock, this.intervalMs, signal, (s) => this.rotateOnce(s), (err) => this.log.warn({ err: errorMessage(err) }, 'failed to rotate container logs'));
  }

  rotateOnce(signal: AbortSignal): Promise<void> {
    const next = this.pass.then(() => this.rotateAll(signal));
    this.pass = next.catch(() => undefined);
    return next;
  }

  private async rotateAll(signal: AbortSignal): Promise<void> {
    if (this.deps.maxSizeBytes < 0 || signal.aborted) return;
    const containers = await this.deps.runtime.listContainers(undefined, signal);
    for (const container of containers) {
      if (signal.aborted) return;
      // Only running containers write: a stopped one would be left with an empty current file.
      if (container.state !== 'CONTAINER_RUNNING') continue;
      try {
        await this.rotateContainer(container.id, signal);
      } catch (err) {
        if (signal.aborted && isAbort(err)) return;
        this.log.warn({ containerID: container.id, err: errorMessage(err) }, 'failed to rotate container log');
      }
    }
  }

  private async rotateContainer(id: string, signal: AbortSignal): Promise<void> {
    const status = await this.deps.runtime.containerStatus(id, signal);
    if (!status.log_path) return;
    const path = await this.checkPath(status.log_path);
    let st = await lstat(path).catch(() => null);
    if (!st) {
      // The runtime lost its file (removed by hand, or a rotation stopped half way): have it reopen one.
      await this.deps.runtime.reopenContainerLog(id, signal);
      st = await lstat(path).catch(() => null);
      if (!st) throw notFound(`container log ${path} does not exist after reopening it`);
    }
    if (!st.isFile()) throw invalidInput(`refusing to rotate container log ${path}: not a regular file`);
    if (!shouldRotate(st.size, this.deps.maxSizeBytes)) return;

    const dir = dirname(path);
    const base = basename(path);
    const entries = await readdir(dir, { withFileTypes: true });
    const plan = planLogRotation(
      base,
      entries.filter((e) => e.isFile()).map((e) => e.name),
      this.deps.maxFiles,
    );
    for (const name of [...plan.removeUnused, ...plan.removeExcess]) await rm(join(dir, name), { force: true });
    for (const name of plan.compress) await compressLogFile(join(dir, name), signal);

    const rotated = rotatedLogName(path, this.deps.clock.now());
    if (await lstat(rotated).then(() => true, () => false)) throw transient(`${rotated} exists already: rotating at the next pass`);
    await rename(path, rotated);
    try {
      await this.deps.runtime.reopenContainerLog(id, signal);
    } catch (err) {
      // Put the file back so that the next pass tries again (upstream does the same).
      await rename(rotated, path).catch((renameErr: unknown) =>
        this.log.error({ containerID: id, path, err: errorMessage(renameErr) }, 'failed to rename the rotated log back'),
      );
      throw err;
    }
    this.log.debug({ containerID: id, path, rotated }, 'rotated container log');
  }

  /**
   * The path to work on: the runtime's path with its folder resolved. Refuses a relative path, and
   * with podLogsDir set, one outside it.
   */
  private async checkPath(path: string): Promise<string> {
    if (!isAbsolute(path) || path.includes('\0')) throw invalidInput(`unsafe container log path ${JSON.stringify(path)}`);
    const realParent = await realpath(dirname(path));
    const real = join(realParent, basename(path));
    const { podLogsDir } = this.deps;
    if (podLogsDir) {
      const realDir = await realpath(podLogsDir);
      const prefix = realDir.endsWith(sep) ? realDir : realDir + sep;
      if (!real.startsWith(prefix)) throw invalidInput(`refusing to rotate container log ${path}: it is outside the pod log folder ${podLogsDir}`);
    }
    return real;
  }
}
