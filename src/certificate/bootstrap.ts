// TLS bootstrap of the kubelet's client certificate, as upstream pkg/kubelet/certificate/bootstrap
// LoadClientCert: when the kubeconfig holds no valid client certificate, the bootstrap
// credentials (a bootstrap token) file a CertificateSigningRequest for `system:node:<name>` with
// signer kubernetes.io/kube-apiserver-client-kubelet; once it is approved (the controller-manager
// auto-approves node client CSRs) and signed, the certificate and key go to the cert dir and the
// kubeconfig is written to point at `<certDir>/kubelet-client-current.pem`.
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { Clock } from '../common/clock.ts';
import { errorMessage, invalidInput, isAbort } from '../common/errors.ts';
import { HttpKubeClient, type KubeClient } from '../kube/client.ts';
import { readKubeconfig } from '../kube/kubeconfig.ts';
import type { Logger } from '../observability/logger.ts';
import { digestedName, kubeletClientUsages, makeCertificateRequest, nodeClientSubject, subjectPublicKeyInfo } from './csr.ts';
import { generateEcKey, parseCertificates, parsePrivateKey } from './pem.ts';
import { KUBELET_CLIENT_SIGNER, requestCertificate, waitForCertificate } from './request.ts';
import { CertificateFileStore, KEY_FILE_MODE, ensureCertDir, writeFileAtomic } from './store.ts';

/** Upstream tmpPrivateKeyFile: the key of a pending bootstrap CSR, kept so a restart reuses it. */
export const TMP_PRIVATE_KEY_FILE = 'kubelet-client.key.tmp';
/** How long the bootstrap waits for approval and signing, ms (upstream: 3600 s). */
export const BOOTSTRAP_WAIT_TIMEOUT_MS = 3_600_000;
/** How long to wait for the API server to answer before filing the CSR anyway, ms (upstream waitForServer: 1 min). */
const SERVER_WAIT_MS = 60_000;
/** Period of that probe, ms (upstream: 2 s, jitter 0.2). */
const SERVER_PROBE_PERIOD_MS = 2_000;
/** Timeout of one probe, ms (upstream: 1 s; a cold TLS handshake on 2 busy cores can take longer). */
const SERVER_PROBE_TIMEOUT_MS = 5_000;

export interface EnsureClientCertificateOptions {
  /** The kubelet's kubeconfig (--kubeconfig): used as is when its certificate is valid, else written. */
  readonly kubeconfigPath: string;
  /** --bootstrap-kubeconfig; '' = no bootstrap (the kubeconfig is used as it is, unchecked). */
  readonly bootstrapKubeconfigPath: string;
  /** --cert-dir; created 0700 when missing. */
  readonly certDir: string;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  /** Give up waiting for the CSR after this long, ms. Default BOOTSTRAP_WAIT_TIMEOUT_MS. */
  readonly waitTimeoutMs?: number;
  /** Builds the bootstrap client; tests pass a fake. Default HttpKubeClient.fromKubeconfigFile. */
  readonly newClient?: (kubeconfigPath: string) => Promise<KubeClient>;
}

export interface EnsureClientCertificateResult {
  /** False when the kubeconfig was already valid (or no bootstrap was asked for). */
  readonly bootstrapped: boolean;
  /** The CSR filed, when bootstrapped. */
  readonly csrName?: string;
  /** Time from filing the CSR to holding the certificate, ms, when bootstrapped. */
  readonly waitedMs?: number;
}

/**
 * Why the kubeconfig at `file` cannot be used as the node's credentials, or '' when it can
 * (upstream isClientConfigStillValid): it must load, name a client certificate and a matching
 * key, and no certificate of the chain may be past notAfter at `nowMs`. Never throws except
 * for I/O errors other than a missing file.
 */
export async function kubeconfigProblem(file: string, nowMs: number): Promise<string> {
  try {
    await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `${file} does not exist`;
    throw err;
  }
  try {
    const { user } = await readKubeconfig(file);
    const certPem = user.certData ? Buffer.from(user.certData, 'base64').toString() : user.certFile ? await readFile(user.certFile, 'utf8') : '';
    const keyPem = user.keyData ? Buffer.from(user.keyData, 'base64').toString() : user.keyFile ? await readFile(user.keyFile, 'utf8') : '';
    if (!certPem) return `${file} names no client certificate`;
    const certs = parseCertificates(certPem);
    const { key } = parsePrivateKey(keyPem);
    if (!certs[0]!.checkPrivateKey(key)) return `the client key in ${file} does not match its certificate`;
    for (const cert of certs) {
      if (nowMs > cert.validToDate.getTime()) return `part of the client certificate in ${file} expired at ${cert.validToDate.toISOString()}`;
    }
    return '';
  } catch (err) {
    return `cannot use ${file}: ${errorMessage(err)}`;
  }
}

/** The cluster part of a kubeconfig, as upstream writeKubeconfigFromBootstrapping copies it. */
export interface BootstrapCluster {
  readonly server: string;
  readonly caFile?: string;
  readonly caData?: string;
  readonly insecureSkipTLSVerify?: boolean;
}

/**
 * The kubelet's kubeconfig (upstream writeKubeconfigFromBootstrapping): cluster `default-cluster`
 * with the bootstrap's server and CA (file if it had one, else data), user `default-auth` whose
 * client-certificate and client-key are both `pemPath`, context `default-context` (namespace
 * default). Pure: returns YAML. No secret goes in it, only paths.
 */
export function kubeletKubeconfig(cluster: BootstrapCluster, pemPath: string): string {
  const c: Record<string, unknown> = { server: cluster.server };
  if (cluster.insecureSkipTLSVerify) c['insecure-skip-tls-verify'] = true;
  if (cluster.caFile) c['certificate-authority'] = cluster.caFile;
  else if (cluster.caData) c['certificate-authority-data'] = cluster.caData;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default-cluster', cluster: c }],
    users: [{ name: 'default-auth', user: { 'client-certificate': pemPath, 'client-key': pemPath } }],
    contexts: [{ name: 'default-context', context: { cluster: 'default-cluster', user: 'default-auth', namespace: 'default' } }],
    'current-context': 'default-context',
    preferences: {},
  });
}

async function readBootstrapCluster(file: string): Promise<BootstrapCluster> {
  let cluster;
  try {
    ({ cluster } = await readKubeconfig(file));
  } catch (err) {
    throw invalidInput(`unable to load bootstrap kubeconfig ${file}: ${errorMessage(err)}`, err);
  }
  return { server: cluster.server, caFile: cluster.caFile, caData: cluster.caData, insecureSkipTLSVerify: cluster.insecureSkipTLSVerify };
}

/**
 * The key for the bootstrap CSR (upstream keyutil.LoadOrGenerateKeyFile): the one kept at
 * `file` if it parses, else a new P-256 key written there (0600). Unlike upstream, a corrupt
 * file is replaced (with a warning) rather than failing the start for good.
 */
async function loadOrGenerateKeyFile(file: string, logger: Logger): Promise<{ pem: string; key: KeyObject }> {
  try {
    return parsePrivateKey(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && code !== 'ENOENT') throw err;
    if (!code) logger.warn({ file, err: errorMessage(err) }, 'the pending bootstrap key is unusable, creating a new one');
  }
  const generated = generateEcKey();
  await writeFileAtomic(file, generated.pem, KEY_FILE_MODE);
  return generated;
}

/** Upstream waitForServer: probes the API server for up to a minute; only logs when it does not answer. */
async function waitForServer(client: KubeClient, clock: Clock, logger: Logger, signal?: AbortSignal): Promise<void> {
  const deadline = clock.now() + SERVER_WAIT_MS;
  for (;;) {
    try {
      await client.request('GET', '/version', { signal, timeoutMs: SERVER_PROBE_TIMEOUT_MS });
      return;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      logger.info({ err: errorMessage(err) }, 'failed to connect to apiserver');
    }
    if (clock.now() >= deadline) {
      logger.info('timed out waiting to connect to apiserver, requesting the certificate anyway');
      return;
    }
    await clock.sleep(SERVER_PROBE_PERIOD_MS * (1 + 0.2 * Math.random()), signal);
  }
}

/**
 * Makes sure `kubeconfigPath` holds usable client credentials before the kubelet starts
 * (upstream LoadClientCert). Blocks until then: with a valid kubeconfig it returns at once;
 * otherwise it files a CSR with the bootstrap kubeconfig and waits (up to waitTimeoutMs) for it
 * to be approved and issued, then writes the pair file, the `-current` symlink and the kubeconfig.
 * Rejects: InvalidInput for an unusable bootstrap kubeconfig or a denied/failed CSR; Transient
 * on timeout; KubeApiError when the API refuses the CSR; the signal's reason when aborted.
 */
export async function ensureClientCertificate(opts: EnsureClientCertificateOptions): Promise<EnsureClientCertificateResult> {
  const log = opts.logger.child({ component: 'certificate-bootstrap' });
  if (!opts.bootstrapKubeconfigPath) return { bootstrapped: false };
  const problem = await kubeconfigProblem(opts.kubeconfigPath, opts.clock.now());
  if (!problem) {
    log.debug({ path: opts.kubeconfigPath }, 'kubeconfig exists and is valid, skipping bootstrap');
    return { bootstrapped: false };
  }
  log.info({ reason: problem }, 'using the bootstrap kubeconfig to request a client certificate');
  const cluster = await readBootstrapCluster(opts.bootstrapKubeconfigPath);

  await ensureCertDir(opts.certDir);
  const store = new CertificateFileStore(opts.certDir);
  await store.recover();
  // Reuse the key of the current pair (even an expired one) or of a pending request.
  let key: { pem: string; key: KeyObject } | undefined;
  try {
    const cur = await store.current();
    key = { pem: cur.keyPem, key: cur.key };
  } catch {
    key = undefined;
  }
  const tmpKeyPath = path.join(store.certDir, TMP_PRIVATE_KEY_FILE);
  if (!key) {
    log.debug('no valid private key and/or certificate found, reusing the pending key or creating a new one');
    key = await loadOrGenerateKeyFile(tmpKeyPath, log);
  }

  const client = await (opts.newClient ?? HttpKubeClient.fromKubeconfigFile)(opts.bootstrapKubeconfigPath);
  let csrName = '';
  let started = 0;
  let certPem: string;
  try {
    await waitForServer(client, opts.clock, log, opts.signal);
    const subject = nodeClientSubject(opts.nodeName);
    const usages = kubeletClientUsages(key.key);
    const csr = makeCertificateRequest({ subject }, key.key);
    started = opts.clock.now();
    const req = await requestCertificate(client, {
      csrPem: csr.pem,
      name: digestedName(subjectPublicKeyInfo(key.key), subject, usages),
      signerName: KUBELET_CLIENT_SIGNER,
      usages,
      privateKey: key.key,
      clock: opts.clock,
      signal: opts.signal,
    });
    csrName = req.name;
    log.info({ csr: csrName, signer: KUBELET_CLIENT_SIGNER }, 'waiting for the client certificate to be issued');
    certPem = await waitForCertificate(client, req.name, req.uid, {
      clock: opts.clock,
      logger: log,
      timeoutMs: opts.waitTimeoutMs ?? BOOTSTRAP_WAIT_TIMEOUT_MS,
      signal: opts.signal,
    });
  } catch (err) {
    if (!isAbort(err)) log.error({ csr: csrName || undefined, err: errorMessage(err) }, 'client certificate bootstrap failed');
    throw err;
  } finally {
    client.close();
  }
  const waitedMs = opts.clock.now() - started;

  const file = await store.update(certPem, key.pem, opts.clock.now());
  await rm(tmpKeyPath, { force: true }).catch((err: unknown) => log.debug({ path: tmpKeyPath, err: errorMessage(err) }, 'failed cleaning up the pending key file'));
  await mkdir(path.dirname(path.resolve(opts.kubeconfigPath)), { recursive: true });
  await writeFileAtomic(opts.kubeconfigPath, kubeletKubeconfig(cluster, store.currentPath()), KEY_FILE_MODE);
  log.info({ csr: csrName, file, kubeconfig: opts.kubeconfigPath, waitedMs }, 'client certificate issued, kubeconfig written');
  return { bootstrapped: true, csrName, waitedMs };
}
