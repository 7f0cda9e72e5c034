// The credentials an image pull of a pod tries, in order (upstream kubelet getPullSecretsForPod,
// credentialprovider/secrets MakeDockerKeyring and kuberuntime PullImage's keyring lookup):
// those of the pod's imagePullSecrets (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg
// Secrets, read through the API with the node's rights), then the node's own docker config.
// A secret that cannot be read is skipped with a FailedToRetrieveImagePullSecret event (the pull
// is still tried); a secret that cannot be parsed fails the pull, as upstream.
import type { AuthConfig } from '../cri/types.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { PodObjectSource, Secret } from '../kube/object-cache.ts';
import type { Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { criAuth, DockerKeyring, imageRepository, parseDockercfg, parseDockerConfigJson } from './keyring.ts';

export const SECRET_TYPE_DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson';
export const SECRET_TYPE_DOCKERCFG = 'kubernetes.io/dockercfg';
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson';
export const DOCKERCFG_KEY = '.dockercfg';

/** What the image manager asks before a pull. */
export interface PullCredentialSource {
  /**
   * The CRI credentials to try, in order, for pulling `image` for `pod`; [] to pull without.
   * Rejects (InvalidInput, naming the secret but never its content) when a pull secret cannot be
   * parsed or the image name is malformed; aborts with `signal`.
   */
  credentialsFor(pod: Pod, image: string, signal: AbortSignal): Promise<AuthConfig[]>;
}

/**
 * The keyring of a pod's pull secrets (upstream MakeDockerKeyring): each dockerconfigjson or
 * dockercfg Secret with a non-empty data key of its type; other Secrets are ignored. Secret data
 * is base64, as the API serves it. Throws InvalidInput when one cannot be parsed. Pure.
 */
export function keyringFromSecrets(secrets: readonly Secret[]): DockerKeyring {
  const keyring = new DockerKeyring();
  for (const s of secrets) {
    const ref = `secret "${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}"`;
    const data = s.data ?? {};
    const jsonData = data[DOCKER_CONFIG_JSON_KEY];
    const cfgData = data[DOCKERCFG_KEY];
    if (s.type === SECRET_TYPE_DOCKER_CONFIG_JSON && jsonData) {
      keyring.add(parseDockerConfigJson(Buffer.from(jsonData, 'base64').toString('utf8'), `${ref}: ${DOCKER_CONFIG_JSON_KEY}`));
    } else if (s.type === SECRET_TYPE_DOCKERCFG && cfgData) {
      keyring.add(parseDockercfg(Buffer.from(cfgData, 'base64').toString('utf8'), `${ref}: ${DOCKERCFG_KEY}`));
    }
  }
  return keyring;
}

export interface PodPullCredentialsDeps {
  /** Where pull secrets are read; null: standalone (no Secrets: every pull secret is unavailable). */
  secrets: Pick<PodObjectSource, 'getSecret'> | null;
  /** The node's own docker config; null: none. */
  node: { keyring(): Promise<DockerKeyring> } | null;
  recorder: EventRecorder;
  logger: Logger;
}

/** PullCredentialSource over the API's Secrets and the node's docker config. */
export class PodPullCredentials implements PullCredentialSource {
  private readonly deps: PodPullCredentialsDeps;

  constructor(deps: PodPullCredentialsDeps) {
    this.deps = deps;
  }

  async credentialsFor(pod: Pod, image: string, signal: AbortSignal): Promise<AuthConfig[]> {
    const repository = imageRepository(image);
    const secrets = await this.pullSecrets(pod, signal);
    const podKeyring = secrets.length > 0 ? keyringFromSecrets(secrets) : null;
    const nodeKeyring = this.deps.node ? await this.deps.node.keyring() : null;
    return [...(podKeyring?.lookup(repository) ?? []), ...(nodeKeyring?.lookup(repository) ?? [])].map(criAuth);
  }

  /**
   * The pod's pull secrets that could be read (upstream getPullSecretsForPod): references without
   * a name are ignored; the names of the others go in one FailedToRetrieveImagePullSecret event.
   */
  private async pullSecrets(pod: Pod, signal: AbortSignal): Promise<Secret[]> {
    const namespace = pod.metadata?.namespace ?? '';
    const found: Secret[] = [];
    const failed: string[] = [];
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      const name = ref.name ?? '';
      if (name === '') continue;
      let secret: Secret | null = null;
      let why = 'no API server (standalone)';
      if (this.deps.secrets) {
        try {
          secret = await this.deps.secrets.getSecret(namespace, name, signal);
          why = `secret "${namespace}/${name}" not found`;
        } catch (err) {
          if (isAbort(err) || signal.aborted) throw err;
          why = errorMessage(err);
        }
      }
      if (secret) {
        found.push(secret);
        continue;
      }
      this.deps.logger.info({ pod: `${namespace}/${pod.metadata?.name ?? ''}`, podUID: pod.metadata?.uid, secret: name, err: why }, 'Unable to retrieve pull secret, the image pull may not succeed.');
      failed.push(name);
    }
    if (failed.length > 0) {
      this.deps.recorder.event(pod, 'Warning', 'FailedToRetrieveImagePullSecret', `Unable to retrieve some image pull secrets (${failed.join(', ')}); attempting to pull the image may not succeed.`);
    }
    return found;
  }
}
