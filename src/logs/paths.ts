// Where container logs live, as upstream lays them out, so `kubectl logs` and log shippers find them:
//   <podLogsDir>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log   (CRI format, written by the runtime)
//   /var/log/containers/<pod>_<namespace>_<container>-<containerID>.log -> the file above
// Every component comes from validated pod data; each is checked again here so that no path
// built from a pod can leave its folder.
import { invalidInput } from '../common/errors.ts';

export const CONTAINER_LOGS_DIR = '/var/log/containers';

/** Refuses anything but a plain file name component (no '/', no '..', no NUL, not empty). */
export function safeComponent(what: string, value: string): string {
  if (!value || value === '.' || value === '..' || /[/\0]/.test(value) || value.length > 253) {
    throw invalidInput(`unsafe ${what} for a path: ${JSON.stringify(value)}`);
  }
  return value;
}

export function podLogDirectory(podLogsDir: string, namespace: string, name: string, uid: string): string {
  return `${podLogsDir}/${safeComponent('namespace', namespace)}_${safeComponent('pod name', name)}_${safeComponent('pod UID', uid)}`;
}

/** The container's log path relative to the pod's log directory, as passed to CRI. */
export function containerLogRelativePath(containerName: string, restartCount: number): string {
  return `${safeComponent('container name', containerName)}/${restartCount}.log`;
}

export function containerLogSymlink(name: string, namespace: string, containerName: string, containerId: string, dir = CONTAINER_LOGS_DIR): string {
  return `${dir}/${safeComponent('pod name', name)}_${safeComponent('namespace', namespace)}_${safeComponent('container name', containerName)}-${safeComponent('container ID', containerId)}.log`;
}
