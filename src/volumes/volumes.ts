// Pod volumes, in upstream's layout under the pod's folder:
//   <rootDir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>
// Supported: emptyDir (on disk, or tmpfs for medium Memory), configMap, secret, downwardAPI,
// projected (configMap, secret, downwardAPI and serviceAccountToken sources) and hostPath
// (hostpath.ts: the host's path itself, after its type check), as upstream's plugins
// (pkg/volume/{emptydir,configmap,secret,downwardapi,projected,hostpath}):
// - the files are written atomically (atomic-writer.ts), with items, keys -> paths, defaultMode and
//   per-item modes, optional sources, fsGroup ownership and the projected token's owner;
// - secret and projected volumes live on a tmpfs (upstream's memory-backed wrapper); configMap and
//   downwardAPI volumes on disk;
// - containers get them read-only (upstream's plugins are read-only); emptyDir and hostPath as
//   the volumeMount says;
// - a volumeMount's subPath / subPathExpr is bind-mounted safely from inside the volume
//   (subpath.ts; upstream makeMounts), mountPropagation becomes the CRI propagation;
// - refreshPod re-writes them while the pod runs (a token before 80% of its lifetime, changed
//   ConfigMaps/Secrets/labels); tearDownPod unmounts and removes them.
// A volume this agent cannot provide is refused as Unsupported (the container then waits with
// CreateContainerConfigError); a volume that fails to set up (missing ConfigMap, API error, a
// hostPath type check) is a VolumeSetUpError with upstream's FailedMount message; a subPath that
// cannot be prepared is InvalidInput with upstream's message, the details only in the log.
import { chmod, chown, lstat, mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { V1Volume as Volume, V1VolumeMount as VolumeMount } from '@kubernetes/client-node';
import type { Container, Pod } from '../kube/types.ts';
import type { Mount } from '../cri/types.ts';
import type { PodObjectSource } from '../kube/object-cache.ts';
import type { Logger } from '../observability/logger.ts';
import type { ResourceList } from '../cm/quantity.ts';
import { parseQuantityNanos, nanosToValue } from '../cm/quantity.ts';
import { KubeletError, errorMessage, invalidInput, isAbort, isUnsupported, unsupported } from '../common/errors.ts';
import { safeComponent } from '../logs/paths.ts';
import { writeAtomically, DATA_DIR_NAME, type Payload } from './atomic-writer.ts';
import type { EnvVarValue } from '../kuberuntime/envvars.ts';
import type { Mounter } from './mounter.ts';
import { configMapPayload, downwardAPIPayload, fsUserFrom, projectedPayload, secretPayload, DEFAULT_MODE } from './payload.ts';
import { setUpHostPath } from './hostpath.ts';
import { setVolumeOwnership } from './ownership.ts';
import { BIDIRECTIONAL_NEEDS_PRIVILEGED, bindSubPath, checkSubPath, cleanSubPaths, expandSubPathExpr, safeMakeDir, translateMountPropagation } from './subpath.ts';

export const EMPTY_DIR_PLUGIN_DIR = 'kubernetes.io~empty-dir';

type Kind = 'emptyDir' | 'configMap' | 'secret' | 'downwardAPI' | 'projected' | 'hostPath';
/** Kinds with a folder under <pod>/volumes (a hostPath volume is the host's path). */
type DirKind = Exclude<Kind, 'hostPath'>;

/** Upstream's escaped plugin names: the folder of each kind under <pod>/volumes. */
const PLUGIN_DIRS: Record<DirKind, string> = {
  emptyDir: EMPTY_DIR_PLUGIN_DIR,
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
};

/** Kinds whose content comes from the API or the pod and is re-written while the pod runs. */
const PROJECTED_KINDS: ReadonlySet<Kind> = new Set(['configMap', 'secret', 'downwardAPI', 'projected']);
/** Kinds a container may write to; the others are read-only whatever the volumeMount says. */
const WRITABLE_KINDS: ReadonlySet<Kind> = new Set(['emptyDir', 'hostPath']);
/** Kinds kept on a tmpfs (upstream wraps them in a memory-backed emptyDir): they hold secrets. */
const TMPFS_KINDS: ReadonlySet<Kind> = new Set(['secret', 'projected']);
/** The API default of a projected token's lifetime, s. */
const DEFAULT_TOKEN_EXPIRATION_S = 3600;

/** A volume that could not be set up; the message is upstream's FailedMount event text. */
export class VolumeSetUpError extends KubeletError {
  readonly volume: string;
  constructor(volume: string, cause: unknown) {
    super('Transient', `MountVolume.SetUp failed for volume "${volume}" : ${errorMessage(cause)}`, { cause });
    this.volume = volume;
  }
}

/** What the runtime manager needs of volumes, in upstream's order for one container start. */
export interface PodVolumes {
  /**
   * Sets up (or refreshes) the volumes the container mounts (upstream WaitForAttachAndMount).
   * Call it first, before the container's environment is built. Throws Unsupported/InvalidInput
   * for what cannot be mounted, a VolumeSetUpError when a volume could not be set up (FailedMount,
   * retry later), or the signal's abort.
   */
  setUpVolumes(pod: Pod, container: Container, signal: AbortSignal): Promise<void>;
  /**
   * The container's CRI mounts (upstream makeMounts): its subPaths prepared, subPathExpr expanded
   * with `env` (the container's built environment), mountPropagation translated. Sets up the
   * volumes the container's last setUpVolumes did not just set up. Throws what setUpVolumes
   * throws, and InvalidInput for a subPath or propagation that cannot be used
   * (CreateContainerConfigError).
   */
  containerMounts(pod: Pod, container: Container, signal: AbortSignal, env?: readonly EnvVarValue[]): Promise<Mount[]>;
}

/** One volumeMount of a container with its volume. */
interface WantedMount {
  index: number;
  vm: VolumeMount;
  volume: Volume;
  kind: Kind;
}

export interface VolumeManagerDeps {
  /** The API objects; null when standalone (configMap, secret and token volumes are then Unsupported). */
  source: PodObjectSource | null;
  mounter: Mounter;
  logger: Logger;
  config: {
    rootDir: string;
    /** Node allocatable: the value of a missing limit in downwardAPI resource files. */
    allocatable?: ResourceList;
  };
}

/** Host folder of a pod's emptyDir volume. */
export function emptyDirPath(podDir: string, volumeName: string): string {
  return `${podDir}/volumes/${EMPTY_DIR_PLUGIN_DIR}/${safeComponent('volume name', volumeName)}`;
}

/** The volume's kind; Unsupported for any kind this agent does not provide. */
function volumeKind(volume: Volume): Kind {
  for (const k of ['emptyDir', 'configMap', 'secret', 'downwardAPI', 'projected', 'hostPath'] as const) if (volume[k]) return k;
  const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
  throw unsupported(`volume "${volume.name}": volume type ${kind} is not supported by tskubelet yet`);
}

/** Checks, before anything is fetched or written, that this node can provide the volume. */
function checkSupported(volume: Volume, kind: Kind, standalone: boolean): void {
  const needApi = (what: string): KubeletError => unsupported(`volume "${volume.name}": ${what} needs an API server (tskubelet runs without --kubeconfig)`);
  if (kind === 'emptyDir') {
    const medium = volume.emptyDir?.medium ?? '';
    if (medium !== '' && medium !== 'Memory') throw unsupported(`volume "${volume.name}": emptyDir medium ${medium} is not supported by tskubelet yet`);
  }
  if (standalone && (kind === 'configMap' || kind === 'secret')) throw needApi(`a ${kind} volume`);
  if (kind === 'projected') {
    for (const s of volume.projected?.sources ?? []) {
      if (s.clusterTrustBundle || s.podCertificate) throw unsupported(`volume "${volume.name}": projected ${s.clusterTrustBundle ? 'clusterTrustBundle' : 'podCertificate'} sources are not supported by tskubelet yet`);
      if (standalone && (s.configMap || s.secret || s.serviceAccountToken)) throw needApi(`a projected ${s.configMap ? 'configMap' : s.secret ? 'secret' : 'serviceAccountToken'} source`);
    }
  }
}

const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * Upstream SetVolumeOwnership for a read-only volume: everything below `dir` gets group `gid`,
 * files at least g+r, folders g+rx and setgid. Symlinks only change group.
 */
async function applyFsGroup(dir: string, gid: number): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) {
      // lchown: the link itself; its target is handled where it lives
      return;
    }
    await chown(p, st.uid, gid);
    if (st.isDirectory()) {
      await chmod(p, (st.mode & 0o7777) | 0o440 | 0o110 | 0o2000);
      for (const name of await readdir(p)) await walk(path.join(p, name));
    } else {
      await chmod(p, (st.mode & 0o7777) | 0o440);
    }
  };
  await walk(dir);
}

/**
 * The volumes of pods on this node (role: PodVolumes). Operations on one pod run one at a time;
 * different pods proceed in parallel.
 */
export class VolumeManager implements PodVolumes {
  private readonly deps: VolumeManagerDeps;
  /** Per pod UID: the tail of its chain of operations. */
  private readonly locks = new Map<string, Promise<void>>();
  /** Folders known to carry a tmpfs (skips re-reading the mount table). */
  private readonly mounted = new Set<string>();
  /** Per pod UID and container name: the volumes setUpVolumes just set up (the next containerMounts skips them). */
  private readonly justSetUp = new Map<string, { uid: string; volumes: Set<string> }>();

  constructor(deps: VolumeManagerDeps) {
    this.deps = deps;
  }

  podDir(uid: string): string {
    return `${this.deps.config.rootDir}/pods/${safeComponent('pod UID', uid)}`;
  }

  private volumeDir(uid: string, kind: DirKind, name: string): string {
    return `${this.podDir(uid)}/volumes/${PLUGIN_DIRS[kind]}/${safeComponent('volume name', name)}`;
  }

  /** The host path of a volume (set up or not). */
  private volumeHostPath(uid: string, volume: Volume, kind: Kind): string {
    return kind === 'hostPath' ? (volume.hostPath?.path ?? '') : this.volumeDir(uid, kind, volume.name);
  }

  private async withPodLock<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(uid) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev.then(() => mine);
    this.locks.set(uid, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(uid) === tail) this.locks.delete(uid);
    }
  }

  /** The container's volumeMounts with their volumes; throws Unsupported for what this node cannot mount. */
  private wantedMounts(pod: Pod, container: Container): WantedMount[] {
    const wanted: WantedMount[] = [];
    (container.volumeMounts ?? []).forEach((vm, index) => {
      const volume = (pod.spec?.volumes ?? []).find((v) => v.name === vm.name);
      if (!volume) throw unsupported(`volumeMount "${vm.name}" of container "${container.name}" names no volume of the pod`);
      const kind = volumeKind(volume);
      checkSupported(volume, kind, this.deps.source === null);
      wanted.push({ index, vm, volume, kind });
    });
    return wanted;
  }

  async setUpVolumes(pod: Pod, container: Container, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const wanted = this.wantedMounts(pod, container);
    if (wanted.length === 0) return;
    await this.withPodLock(uid, async () => {
      const done = new Set<string>();
      const key = `${uid}/${container.name}`;
      this.justSetUp.delete(key);
      await this.setUpAll(pod, wanted, signal, done);
      this.justSetUp.set(key, { uid, volumes: done });
    });
  }

  /**
   * Sets up each volume once, except those in `skip`; adds the ones set up to `done`. Resolves
   * to their host paths by name. Call under the pod's lock.
   */
  private async setUpAll(pod: Pod, wanted: WantedMount[], signal: AbortSignal, done: Set<string>, skip: ReadonlySet<string> = new Set()): Promise<Map<string, string>> {
    const uid = pod.metadata?.uid ?? '';
    const hostPaths = new Map<string, string>();
    for (const { volume, kind } of wanted) {
      if (hostPaths.has(volume.name)) continue;
      if (skip.has(volume.name)) {
        hostPaths.set(volume.name, this.volumeHostPath(uid, volume, kind));
        continue;
      }
      try {
        hostPaths.set(volume.name, await this.setUp(pod, volume, kind, signal));
        done.add(volume.name);
      } catch (err) {
        if (isAbort(err) || signal.aborted || isUnsupported(err)) throw err;
        throw new VolumeSetUpError(volume.name, err);
      }
    }
    return hostPaths;
  }

  async containerMounts(pod: Pod, container: Container, signal: AbortSignal, env: readonly EnvVarValue[] = []): Promise<Mount[]> {
    const uid = pod.metadata?.uid ?? '';
    const wanted = this.wantedMounts(pod, container);
    if (wanted.length === 0) return [];
    const privileged = container.securityContext?.privileged === true;
    // What needs no I/O first: propagation and the (expanded) subPaths.
    const plans = wanted.map((w) => {
      const propagation = translateMountPropagation(w.vm.mountPropagation);
      if (propagation === 'PROPAGATION_BIDIRECTIONAL' && !privileged) {
        throw invalidInput(`volumeMount "${w.vm.name}" of container "${container.name}": ${BIDIRECTIONAL_NEEDS_PRIVILEGED}`);
      }
      const subPath = w.vm.subPathExpr ? expandSubPathExpr(w.vm.subPathExpr, env) : (w.vm.subPath ?? '');
      if (subPath !== '') checkSubPath(subPath);
      return { ...w, propagation, subPath };
    });
    return this.withPodLock(uid, async () => {
      const key = `${uid}/${container.name}`;
      const skip = this.justSetUp.get(key)?.volumes;
      this.justSetUp.delete(key);
      const hostPaths = await this.setUpAll(pod, wanted, signal, new Set(), skip);
      const mounts: Mount[] = [];
      for (const p of plans) {
        const volumePath = hostPaths.get(p.volume.name) ?? '';
        signal.throwIfAborted();
        mounts.push({
          container_path: p.vm.mountPath,
          host_path: p.subPath === '' ? volumePath : await this.prepareSubPath(pod, container, p, p.subPath, volumePath),
          readonly: (p.vm.readOnly ?? false) || !WRITABLE_KINDS.has(p.kind),
          selinux_relabel: false,
          propagation: p.propagation,
        });
      }
      return mounts;
    });
  }

  /**
   * upstream makeMounts for one subPath: makes it inside the volume when missing, then binds it
   * (subpath.ts). Resolves to the bind target. Throws InvalidInput with upstream's message; the
   * details (host paths) only go to the log.
   */
  private async prepareSubPath(pod: Pod, container: Container, w: WantedMount, subPath: string, volumePath: string): Promise<string> {
    const uid = pod.metadata?.uid ?? '';
    const log = (msg: string, err: unknown): void =>
      this.deps.logger.warn({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, container: container.name, volume: w.volume.name, subPath, err: errorMessage(err) }, msg);
    const what = `volumeMount "${w.vm.name}" of container "${container.name}"`;
    let exists = true;
    try {
      await stat(path.join(volumePath, subPath));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) exists = false;
      else log('could not determine whether the subPath exists', err);
    }
    if (!exists) {
      try {
        await safeMakeDir(volumePath, subPath, (await stat(volumePath)).mode);
      } catch (err) {
        log('could not create the subPath directory', err);
        throw invalidInput(`failed to create subPath directory for ${what}`, err);
      }
    }
    try {
      const podDir = this.podDir(uid);
      await mkdir(podDir, { recursive: true, mode: 0o750 });
      return await bindSubPath(this.deps.mounter, { podDir: await realpath(podDir), volumeName: w.volume.name, containerName: container.name, index: w.index, volumePath, subPath });
    } catch (err) {
      log('could not prepare the subPath', err);
      throw invalidInput(`failed to prepare subPath for ${what}`, err);
    }
  }

  /** Sets up one volume: creates its folder (and tmpfs) and writes its content, or checks the host path; resolves to the host path. */
  private async setUp(pod: Pod, volume: Volume, kind: Kind, signal: AbortSignal): Promise<string> {
    if (kind === 'hostPath') {
      const hp = volume.hostPath ?? { path: '' };
      await setUpHostPath(hp.path, hp.type ?? '');
      return hp.path;
    }
    const dir = this.volumeDir(pod.metadata?.uid ?? '', kind, volume.name);
    if (kind === 'emptyDir') {
      const created = await mkdir(dir, { recursive: true, mode: 0o777 });
      if (volume.emptyDir?.medium === 'Memory') {
        const limit = volume.emptyDir.sizeLimit;
        await this.ensureTmpfs(dir, limit ? nanosToValue(parseQuantityNanos(limit)) : undefined);
        await chmod(dir, 0o777);
      } else {
        // Upstream setupDir: 0777 whatever the kubelet's umask (the other bits kept).
        const st = await stat(dir);
        if ((st.mode & 0o777) !== 0o777) await chmod(dir, (st.mode & 0o7777) | 0o777);
      }
      // fsGroup once, when the volume is first set up (upstream: at its mount, then never again).
      const sc = pod.spec?.securityContext;
      if (created !== undefined && typeof sc?.fsGroup === 'number') await setVolumeOwnership(dir, sc.fsGroup, { readOnly: false, changePolicy: sc.fsGroupChangePolicy });
      return dir;
    }
    await this.writeVolume(pod, volume, kind, dir, signal);
    return dir;
  }

  private async ensureTmpfs(dir: string, sizeBytes?: number): Promise<void> {
    if (this.mounted.has(dir)) return;
    await this.deps.mounter.mountTmpfs(dir, sizeBytes ? { sizeBytes } : {});
    this.mounted.add(dir);
  }

  /** Collects the volume's files first (nothing changes on failure), then writes them atomically. */
  private async writeVolume(pod: Pod, volume: Volume, kind: Kind, dir: string, signal: AbortSignal): Promise<boolean> {
    const payload = await this.collect(pod, volume, kind, signal);
    signal.throwIfAborted();
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (TMPFS_KINDS.has(kind)) await this.ensureTmpfs(dir);
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    const written = await writeAtomically(dir, payload, fsGroup === undefined ? {} : { setPerms: (versionDir) => applyFsGroup(versionDir, fsGroup) });
    if (fsGroup !== undefined) {
      const st = await lstat(dir);
      await chown(dir, st.uid, fsGroup);
      await chmod(dir, (st.mode & 0o7777) | 0o440 | 0o110 | 0o2000);
    }
    return written;
  }

  /** The files of a configMap, secret, downwardAPI or projected volume, fetched now. */
  private async collect(pod: Pod, volume: Volume, kind: Kind, signal: AbortSignal): Promise<Payload> {
    const ns = pod.metadata?.namespace ?? '';
    const source = this.deps.source;
    const allocatable = this.deps.config.allocatable;
    if (kind === 'downwardAPI') {
      const d = volume.downwardAPI ?? {};
      return downwardAPIPayload(d.items, pod, d.defaultMode ?? DEFAULT_MODE, allocatable);
    }
    if (!source) throw unsupported(`volume "${volume.name}": needs an API server`);
    if (kind === 'configMap') {
      const c = volume.configMap ?? {};
      const optional = c.optional ?? false;
      const name = c.name ?? '';
      const cm = await source.getConfigMap(ns, name, signal);
      if (!cm && !optional) throw invalidInput(`configmap "${name}" not found`);
      return configMapPayload(c.items, cm ?? {}, c.defaultMode ?? DEFAULT_MODE, optional);
    }
    if (kind === 'secret') {
      const s = volume.secret ?? {};
      const optional = s.optional ?? false;
      const name = s.secretName ?? '';
      const secret = await source.getSecret(ns, name, signal);
      if (!secret && !optional) throw invalidInput(`secret "${name}" not found`);
      return secretPayload(s.items, secret ?? {}, s.defaultMode ?? DEFAULT_MODE, optional);
    }
    if (kind !== 'projected') throw new KubeletError('Internal', `volume "${volume.name}": nothing to collect for ${kind}`);
    const projected = volume.projected ?? {};
    const configMaps = new Map<string, Awaited<ReturnType<PodObjectSource['getConfigMap']>>>();
    const secrets = new Map<string, Awaited<ReturnType<PodObjectSource['getSecret']>>>();
    const tokens = new Map<number, string>();
    const fetchErrors = new Map<number, unknown>();
    const m = pod.metadata ?? {};
    await Promise.all(
      (projected.sources ?? []).map(async (s, i) => {
        try {
          if (s.configMap) configMaps.set(s.configMap.name ?? '', await source.getConfigMap(ns, s.configMap.name ?? '', signal));
          else if (s.secret) secrets.set(s.secret.name ?? '', await source.getSecret(ns, s.secret.name ?? '', signal));
          else if (s.serviceAccountToken) {
            const t = s.serviceAccountToken;
            const res = await source.requestServiceAccountToken(
              ns,
              pod.spec?.serviceAccountName || 'default',
              { audiences: t.audience ? [t.audience] : [], expirationSeconds: t.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_S, boundPod: { name: m.name ?? '', uid: m.uid ?? '' } },
              signal,
            );
            tokens.set(i, res.token);
          }
        } catch (err) {
          if (isAbort(err) || signal.aborted) throw err;
          fetchErrors.set(i, err);
        }
      }),
    );
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    const fsUser = fsUserFrom(pod);
    return projectedPayload(projected, pod, {
      configMaps,
      secrets,
      tokens,
      fetchErrors,
      ...(allocatable ? { allocatable } : {}),
      ...(fsUser !== undefined ? { fsUser } : {}),
      ...(fsGroup !== undefined ? { fsGroup } : {}),
    });
  }

  /**
   * Re-writes the pod's configMap, secret, downwardAPI and projected volumes that are set up
   * (their `..data` exists, also after a kubelet restart): a token due for refresh, changed
   * ConfigMaps/Secrets (within the source's cache TTL), changed labels/annotations. Call it on
   * every sync of a running pod (upstream remounts these volumes on each sync). Failures are
   * logged and the old content stays; never throws except the signal's abort.
   */
  async refreshPod(pod: Pod, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const volumes = (pod.spec?.volumes ?? []).map((v) => ({ v, kind: (['configMap', 'secret', 'downwardAPI', 'projected'] as const).find((k) => v[k]) }));
    if (!uid || !volumes.some((x) => x.kind)) return;
    await this.withPodLock(uid, async () => {
      for (const { v, kind } of volumes) {
        if (!kind || !PROJECTED_KINDS.has(kind)) continue;
        let dir: string;
        try {
          dir = this.volumeDir(uid, kind, v.name);
          await lstat(path.join(dir, DATA_DIR_NAME));
        } catch {
          continue; // not set up (yet): the container start does it
        }
        try {
          checkSupported(v, kind, this.deps.source === null);
          const written = await this.writeVolume(pod, v, kind, dir, signal);
          if (written) this.deps.logger.debug({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, volume: v.name }, 'volume content updated');
        } catch (err) {
          if (isAbort(err) || signal.aborted) throw err;
          this.deps.logger.warn({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, volume: v.name, err: errorMessage(err) }, 'could not refresh volume; its old content stays');
        }
      }
    });
  }

  /**
   * Removes the pod's volumes: unmounts its subPath bind targets and every mount below its
   * volumes folder (tmpfs volumes, also those of an earlier kubelet process), removes the
   * volume-subpaths folder (never through a mount) and the volumes folder, and forgets the pod's
   * tokens. Call it when the pod's containers are stopped, before its folder is removed. Throws,
   * leaving the folders in place, when anything stays mounted below the pod's folder: a recursive
   * removal of the pod's folder must then not happen (it would reach into the mount).
   */
  async tearDownPod(uid: string): Promise<void> {
    await this.withPodLock(uid, async () => {
      const podDir = this.podDir(uid);
      let realPodDir: string | null = null;
      try {
        realPodDir = await realpath(podDir);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      if (realPodDir !== null) {
        const { mounter } = this.deps;
        await cleanSubPaths(mounter, realPodDir);
        for (const p of await mounter.mountPointsUnder(`${realPodDir}/volumes`)) await mounter.unmount(p);
        const left = await mounter.mountPointsUnder(realPodDir);
        if (left.length > 0) throw new KubeletError('Transient', `pod ${uid}: still mounted below its folder: ${left.join(', ')}`);
        await rm(`${realPodDir}/volumes`, { recursive: true, force: true });
      }
      for (const dir of this.mounted) if (dir.startsWith(`${podDir}/`)) this.mounted.delete(dir);
      for (const [key, entry] of this.justSetUp) if (entry.uid === uid) this.justSetUp.delete(key);
      this.deps.source?.forgetPod(uid);
    });
  }

  /**
   * Upstream cleanupOrphanedPodDirs: tears down the volumes of every pod folder under
   * <rootDir>/pods whose UID is not in `active`, then removes that folder. Call it after a
   * restart once every pod source has been read, with every pod UID the kubelet knows (also
   * those being stopped) -- a UID missing here loses its data. A folder that stays mounted is
   * logged and kept. Resolves to the UIDs removed.
   */
  async cleanupOrphanedPodDirs(active: ReadonlySet<string>): Promise<string[]> {
    const podsDir = `${this.deps.config.rootDir}/pods`;
    let uids: string[];
    try {
      uids = await readdir(podsDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const removed: string[] = [];
    for (const uid of uids) {
      if (active.has(uid)) continue;
      try {
        await this.tearDownPod(uid);
        await rm(this.podDir(uid), { recursive: true, force: true });
        removed.push(uid);
      } catch (err) {
        this.deps.logger.warn({ podUID: uid, err: errorMessage(err) }, 'could not remove an orphaned pod folder');
      }
    }
    return removed;
  }
}

/**
 * The CRI mounts for a container's volumeMounts, emptyDir on disk only (what tskubelet did before
 * the VolumeManager; kept for a runtime manager built without one). Throws Unsupported otherwise.
 */
export async function containerVolumeMounts(pod: Pod, container: Container, podDir: string): Promise<Mount[]> {
  const mounts: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const volume = (pod.spec?.volumes ?? []).find((v) => v.name === vm.name);
    if (!volume) throw unsupported(`volumeMount "${vm.name}" of container "${container.name}" names no volume of the pod`);
    if (vm.subPath || vm.subPathExpr) throw unsupported(`volumeMount "${vm.name}": subPath is not supported by tskubelet yet`);
    if (vm.mountPropagation && vm.mountPropagation !== 'None') throw unsupported(`volumeMount "${vm.name}": mountPropagation ${vm.mountPropagation} is not supported by tskubelet yet`);
    if (!volume.emptyDir) {
      const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
      throw unsupported(`volume "${vm.name}": volume type ${kind} is not supported by tskubelet yet (only emptyDir)`);
    }
    if (volume.emptyDir.medium && volume.emptyDir.medium !== '') throw unsupported(`volume "${vm.name}": emptyDir medium ${volume.emptyDir.medium} is not supported by tskubelet yet`);
    const hostPath = emptyDirPath(podDir, volume.name);
    await mkdir(hostPath, { recursive: true, mode: 0o777 });
    mounts.push({ container_path: vm.mountPath, host_path: hostPath, readonly: vm.readOnly ?? false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE' });
  }
  return mounts;
}
