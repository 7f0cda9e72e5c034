// Pod cgroups on the cgroupfs driver. The runtime creates a pod's cgroup (the sandbox's
// cgroup_parent) on first use but never removes it; the kubelet removes it once the pod is gone
// (upstream podContainerManager.Destroy). Works on cgroup v1, v2 and hybrid: every mounted
// hierarchy under the cgroup mount point is tried.
import { readdir, rmdir } from 'node:fs/promises';
import { safeComponent } from '../logs/paths.ts';
import { podCgroupName } from './resources.ts';

export const CGROUP_MOUNT = '/sys/fs/cgroup';
const QOS_CLASSES = ['Guaranteed', 'Burstable', 'BestEffort'] as const;

/**
 * Removes the pod's cgroup in every hierarchy, whatever its QoS class was (an orphan's spec is
 * unknown). Only empty cgroups can be removed: call after every container is gone. Resolves to
 * the number of folders removed; never rejects for a missing folder.
 */
export async function removePodCgroups(uid: string, cgroupRoot: string, mount = CGROUP_MOUNT): Promise<number> {
  safeComponent('pod UID', uid);
  let hierarchies: string[];
  try {
    hierarchies = (await readdir(mount, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => `${mount}/${d.name}`);
  } catch {
    return 0;
  }
  // cgroup v2 alone mounts the unified hierarchy at the mount point itself.
  hierarchies.push(mount);
  let removed = 0;
  for (const h of hierarchies) {
    for (const qos of QOS_CLASSES) {
      try {
        await rmdir(`${h}${podCgroupName(qos, uid, cgroupRoot)}`);
        removed++;
      } catch {
        // absent in this hierarchy, or not empty yet: nothing to do
      }
    }
  }
  return removed;
}
