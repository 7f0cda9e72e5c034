// Pod volumes, as far as this agent supports them yet: emptyDir on disk, under the pod's folder
//   <rootDir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>
// (upstream's layout). Any other volume type, or a mount this agent cannot make safely, is
// refused with a clear message: the container then waits with CreateContainerConfigError
// rather than run without the storage its spec asks for.
import { mkdir } from 'node:fs/promises';
import type { Container, Pod } from '../kube/types.ts';
import type { Mount } from '../cri/types.ts';
import { unsupported } from '../common/errors.ts';
import { safeComponent } from '../logs/paths.ts';

export const EMPTY_DIR_PLUGIN_DIR = 'kubernetes.io~empty-dir';

/** Host folder of a pod's emptyDir volume. */
export function emptyDirPath(podDir: string, volumeName: string): string {
  return `${podDir}/volumes/${EMPTY_DIR_PLUGIN_DIR}/${safeComponent('volume name', volumeName)}`;
}

/**
 * The CRI mounts for a container's volumeMounts; creates emptyDir folders on first use.
 * Throws an Unsupported KubeletError for what is not supported yet.
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
