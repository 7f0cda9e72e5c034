// Builds and starts the kubelet API server from the configuration: serving certificate, client
// CA, authenticator (x509, TokenReview, anonymous) and authorizer (Webhook or AlwaysAllow).
// Without an API server (standalone) bearer tokens are refused and Webhook authorization
// denies everything: upstream refuses to start in that case; tskubelet starts and stays closed.
// With serverTLSBootstrap the serving certificate comes from a kubernetes.io/kubelet-serving CSR
// (an administrator approves it, as upstream); the server listens once it is issued and swaps
// certificates on rotation.
import { readFile } from 'node:fs/promises';
import type { Clock } from '../common/clock.ts';
import { errorMessage, invalidInput } from '../common/errors.ts';
import type { KubeletConfig } from '../config/types.ts';
import { loadServingCertificate } from '../certificate/serving.ts';
import type { KubeClient } from '../kube/client.ts';
import { alwaysAllow, alwaysDeny, KubeletAuthenticator, WebhookAuthorizer, type Authorizer } from './auth.ts';
import { KubeletServer, type KubeletServerDeps, type TlsMaterial } from './kubelet-server.ts';
import { isIP } from 'node:net';
import { ClientCertificateRotator, nodeServingTemplate } from '../certificate/rotation.ts';
import { KUBELET_SERVING_SIGNER } from '../certificate/request.ts';
import { CertificateFileStore, type CertificatePair } from '../certificate/store.ts';
import { validity } from '../certificate/pem.ts';

export interface StartKubeletServerOptions extends Omit<KubeletServerDeps, 'authenticator' | 'authorizer' | 'config'> {
  config: KubeletConfig;
  client: KubeClient | null;
  clock: Clock;
  /** The node's addresses, for a self-signed certificate. */
  addresses: readonly string[];
}

/** Starts listening; resolves to the closer. Throws InvalidInput on unusable TLS or CA files. */
export async function startKubeletServer(o: StartKubeletServerOptions): Promise<() => Promise<void>> {
  const { config, client, clock, logger } = o;
  let clientCA = '';
  if (config.clientCAFile) {
    try {
      clientCA = await readFile(config.clientCAFile, 'utf8');
    } catch (err) {
      throw invalidInput(`clientCAFile ${config.clientCAFile}: ${errorMessage(err)}`);
    }
  }
  if (!client && (config.authenticationWebhookEnabled || config.authorizationMode === 'Webhook')) {
    logger.warn('no API server: bearer tokens are refused and Webhook authorization denies every kubelet API request');
  }
  const authenticator = new KubeletAuthenticator({
    clientCAConfigured: clientCA !== '',
    tokenReview: client && config.authenticationWebhookEnabled ? { client, cacheTtlMs: config.authenticationWebhookCacheTTLMs } : null,
    anonymous: config.anonymousAuthEnabled,
    clock,
  });
  let authorizer: Authorizer = alwaysAllow;
  if (config.authorizationMode === 'Webhook') {
    authorizer = client
      ? new WebhookAuthorizer({ client, clock, authorizedTtlMs: config.authorizationWebhookCacheAuthorizedTTLMs, unauthorizedTtlMs: config.authorizationWebhookCacheUnauthorizedTTLMs })
      : alwaysDeny;
  }
  const server = new KubeletServer({ ...o, config, authenticator, authorizer });
  const minVersion = config.tlsMinVersion === 'VersionTLS13' ? 'TLSv1.3' : 'TLSv1.2';
  let listening: { setTls(t: TlsMaterial): void } | null = null;
  const serve = async (cert: string, key: string, source: string): Promise<void> => {
    if (listening) return listening.setTls({ cert, key, clientCA, minVersion });
    listening = await server.listen(config.address, config.port, { cert, key, clientCA, minVersion });
    logger.info({ address: `${config.address}:${config.port}`, certificate: source, authorization: config.authorizationMode, clientCA: config.clientCAFile || null }, 'kubelet API server listening');
  };

  if (config.serverTLSBootstrap && client && !config.tlsCertFile) {
    const template = nodeServingTemplate(config.nodeName, o.addresses.filter((a) => isIP(a) === 0).concat(isIP(config.nodeName) ? [] : [config.nodeName]), o.addresses.filter((a) => isIP(a) !== 0));
    const store = new CertificateFileStore(config.certDir, template.prefix);
    const servePair = (pair: CertificatePair): Promise<void> => serve(pair.certificates.map((c) => c.toString()).join(''), pair.keyPem, pair.file);
    const current = await store.current().catch(() => null); // none yet: the rotator requests one at once
    const leaf = current?.certificates[0];
    if (current && leaf && template.satisfied(leaf) && validity(leaf).notAfter > clock.now()) await servePair(current);
    if (!listening) logger.info({ signer: KUBELET_SERVING_SIGNER }, 'serverTLSBootstrap: the kubelet API listens once its serving certificate is approved and issued');
    const stop = new AbortController();
    const rotation = new ClientCertificateRotator({ client, certDir: config.certDir, nodeName: config.nodeName, logger, clock, template, onRotated: async () => servePair(await store.current()) }).run(stop.signal);
    return async () => {
      stop.abort();
      await rotation;
      await server.close();
    };
  }
  if (config.serverTLSBootstrap && !config.tlsCertFile) logger.warn('serverTLSBootstrap needs an API server: serving with a self-signed certificate');
  const serving = await loadServingCertificate({
    tlsCertFile: config.tlsCertFile,
    tlsPrivateKeyFile: config.tlsPrivateKeyFile,
    certDir: config.certDir,
    nodeName: config.nodeName,
    addresses: o.addresses,
    nowMs: clock.now(),
  });
  await serve(serving.cert, serving.key, serving.source);
  return () => server.close();
}
