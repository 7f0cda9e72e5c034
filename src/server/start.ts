// Builds and starts the kubelet API server from the configuration: serving certificate, client
// CA, authenticator (x509, TokenReview, anonymous) and authorizer (Webhook or AlwaysAllow).
// Without an API server (standalone) bearer tokens are refused and Webhook authorization
// denies everything: upstream refuses to start in that case; tskubelet starts and stays closed.
import { readFile } from 'node:fs/promises';
import type { Clock } from '../common/clock.ts';
import { errorMessage, invalidInput } from '../common/errors.ts';
import type { KubeletConfig } from '../config/types.ts';
import { loadServingCertificate } from '../certificate/serving.ts';
import type { KubeClient } from '../kube/client.ts';
import { alwaysAllow, alwaysDeny, KubeletAuthenticator, WebhookAuthorizer, type Authorizer } from './auth.ts';
import { KubeletServer, type KubeletServerDeps } from './kubelet-server.ts';

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
  if (config.serverTLSBootstrap) logger.warn('serverTLSBootstrap is not implemented yet: serving with a self-signed certificate');
  const serving = await loadServingCertificate({
    tlsCertFile: config.tlsCertFile,
    tlsPrivateKeyFile: config.tlsPrivateKeyFile,
    certDir: config.certDir,
    nodeName: config.nodeName,
    addresses: o.addresses,
    nowMs: clock.now(),
  });
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
  await server.listen(config.address, config.port, {
    cert: serving.cert,
    key: serving.key,
    clientCA,
    minVersion: config.tlsMinVersion === 'VersionTLS13' ? 'TLSv1.3' : 'TLSv1.2',
  });
  logger.info({ address: `${config.address}:${config.port}`, certificate: serving.source, authorization: config.authorizationMode, clientCA: config.clientCAFile || null }, 'kubelet API server listening');
  return () => server.close();
}
