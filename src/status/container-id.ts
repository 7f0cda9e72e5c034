// The containerID of a container status, as upstream writes it: `<runtime name>://<runtime's ID>`
// (e.g. `containerd://4f2e...`), and the runtime's ID read back from it. Pure.

export const statusContainerID = (runtimeName: string, id: string): string => `${runtimeName}://${id}`;

/** The runtime's ID in a status containerID ("containerd://<id>" -> "<id>"); '' when none. */
export function runtimeContainerID(containerID: string | undefined): string {
  if (!containerID) return '';
  const i = containerID.indexOf('://');
  return i < 0 ? containerID : containerID.slice(i + 3);
}
