// The CRI v1 message types tskubelet uses, generated from k8s.io/cri-api's api.proto into
// build/cri/types by scripts/cri-generate.sh (type-only imports: erased at run time).
// `…Config`/`…Filter` are request shapes; responses use the generated `__Output` shapes, in which
// every field is present (the loader fills defaults).
export type { PodSandboxConfig } from '../../build/cri/types/runtime/v1/PodSandboxConfig.ts';
export type { ContainerConfig } from '../../build/cri/types/runtime/v1/ContainerConfig.ts';
export type { LinuxContainerResources } from '../../build/cri/types/runtime/v1/LinuxContainerResources.ts';
export type { PortMapping } from '../../build/cri/types/runtime/v1/PortMapping.ts';
export type { Mount } from '../../build/cri/types/runtime/v1/Mount.ts';
export type { KeyValue } from '../../build/cri/types/runtime/v1/KeyValue.ts';
export type { AuthConfig } from '../../build/cri/types/runtime/v1/AuthConfig.ts';
export type { PodSandboxFilter } from '../../build/cri/types/runtime/v1/PodSandboxFilter.ts';
export type { ContainerFilter } from '../../build/cri/types/runtime/v1/ContainerFilter.ts';
export type { PodSandbox__Output as PodSandbox } from '../../build/cri/types/runtime/v1/PodSandbox.ts';
export type { PodSandboxStatus__Output as PodSandboxStatus } from '../../build/cri/types/runtime/v1/PodSandboxStatus.ts';
export type { Container__Output as Container } from '../../build/cri/types/runtime/v1/Container.ts';
export type { ContainerStatus__Output as ContainerStatus } from '../../build/cri/types/runtime/v1/ContainerStatus.ts';
export type { Image__Output as Image } from '../../build/cri/types/runtime/v1/Image.ts';
export type { VersionResponse__Output as VersionResponse } from '../../build/cri/types/runtime/v1/VersionResponse.ts';
export type { RuntimeStatus__Output as RuntimeStatus } from '../../build/cri/types/runtime/v1/RuntimeStatus.ts';
export type { StatusResponse__Output as StatusResponse } from '../../build/cri/types/runtime/v1/StatusResponse.ts';
export type { ContainerState__Output as ContainerState } from '../../build/cri/types/runtime/v1/ContainerState.ts';
export type { PodSandboxState__Output as PodSandboxState } from '../../build/cri/types/runtime/v1/PodSandboxState.ts';
export type { ContainerStats__Output as ContainerStats } from '../../build/cri/types/runtime/v1/ContainerStats.ts';
export type { PodSandboxStats__Output as PodSandboxStats } from '../../build/cri/types/runtime/v1/PodSandboxStats.ts';
export type { FilesystemUsage__Output as FilesystemUsage } from '../../build/cri/types/runtime/v1/FilesystemUsage.ts';
export type { ContainerStatsFilter } from '../../build/cri/types/runtime/v1/ContainerStatsFilter.ts';
export type { PodSandboxStatsFilter } from '../../build/cri/types/runtime/v1/PodSandboxStatsFilter.ts';
