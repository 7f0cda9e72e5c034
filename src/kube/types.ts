// The Kubernetes API types tskubelet uses, from @kubernetes/client-node (types only: erased at run time).
export type {
  V1Pod as Pod,
  V1PodSpec as PodSpec,
  V1PodStatus as PodStatus,
  V1PodCondition as PodCondition,
  V1Container as Container,
  V1ContainerStatus as ContainerStatus,
  V1ContainerState as ContainerState,
  V1ContainerPort as ContainerPort,
  V1EnvVar as EnvVar,
  V1ResourceRequirements as ResourceRequirements,
  V1ObjectMeta as ObjectMeta,
  V1PodList as PodList,
} from '@kubernetes/client-node';
