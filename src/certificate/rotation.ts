// Certificate rotation, as upstream client-go util/certificate manager with the kubelet's
// templates (pkg/kubelet/certificate): the client certificate (NewKubeletClientCertificateManager)
// and, with serverTLSBootstrap, the serving one (NewKubeletServerCertificateManager). Sleep until a
// random point at 70-90 % of the current certificate's validity, then request a new certificate
// for a new key with the CURRENT client credentials (the controller-manager approves such
// "selfnodeclient" requests: the requester is the node the certificate names), store it
// (`kubelet-client-<ts>.pem` + `-current.pem` symlink swap) and tell the caller, who reloads the
// API client. Failed attempts are retried with upstream's backoff; nothing here ends the agent.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { KubeClient } from '../kube/client.ts';
import type { Logger } from '../observability/logger.ts';
import { kubeletClientUsages, makeCertificateRequest, nodeClientSubject, type CertificateRequestTemplate, type KeyUsage } from './csr.ts';
import { generateEcKey, validity } from './pem.ts';
import { KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, requestCertificate, waitForCertificate } from './request.ts';
import { CertificateFileStore, KUBELET_CLIENT_PREFIX, type CertificatePair } from './store.ts';

/** How long one rotation attempt waits for its CSR to be issued, ms (upstream certificateWaitTimeout: 15 min). */
export const ROTATION_WAIT_TIMEOUT_MS = 15 * 60_000;
/** Longest single sleep before the deadline, ms: the cert file is re-read this often (and setTimeout caps at ~24.8 days). */
const MAX_SLEEP_MS = 60 * 60_000;

/**
 * When to rotate a certificate valid from notBefore to notAfter (epoch ms): notBefore plus
 * 70 % + 20 % × random of its lifetime (upstream jitteryDuration: wait.Jitter(total, 0.2) −
 * 0.3 × total). `random` is in [0, 1). Pure.
 */
export function rotationDeadline(notBefore: number, notAfter: number, random: number): number {
  const total = notAfter - notBefore;
  return notBefore + Math.floor((total * 7) / 10 + (total * 2 * random) / 10);
}

/**
 * Delay before the next attempt after `failures` consecutive failed ones, ms (upstream: an
 * exponential backoff of 2 s × 2^n with 10 % jitter for 5 attempts — 2, 4, 8, 16 s between
 * them — then a poll every 32 s forever). `random` is in [0, 1). Pure.
 */
export function rotationRetryDelayMs(failures: number, random: number): number {
  if (failures >= 5) return 32_000;
  return Math.round(2_000 * 2 ** (Math.max(1, failures) - 1) * (1 + 0.1 * random));
}

/** The subject attributes of a certificate (`O`, `CN`, ...) with all their values. Pure. */
export function subjectAttributes(cert: X509Certificate): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of cert.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/**
 * True when the certificate is what the kubelet would request (upstream certSatisfiesTemplate):
 * CN `system:node:<nodeName>` and O including `system:nodes`. Pure.
 */
export function satisfiesNodeClientTemplate(cert: X509Certificate, nodeName: string): boolean {
  const want = nodeClientSubject(nodeName);
  const attrs = subjectAttributes(cert);
  return (attrs.get('CN') ?? []).includes(want.commonName) && want.organizations.every((o) => (attrs.get('O') ?? []).includes(o));
}

/** What a rotator requests and how it recognises a good current certificate. */
export interface RotationTemplate {
  /** 'client' or 'serving', for the log. */
  readonly what: string;
  /** The store's file prefix: `kubelet-client` or `kubelet-server`. */
  readonly prefix: string;
  readonly signerName: string;
  readonly request: CertificateRequestTemplate;
  usages(key: KeyObject): KeyUsage[];
  /** Whether the current certificate still matches the template (else it is replaced at once). */
  satisfied(cert: X509Certificate): boolean;
}

/** The node's client certificate. */
export function nodeClientTemplate(nodeName: string): RotationTemplate {
  return {
    what: 'client', prefix: KUBELET_CLIENT_PREFIX, signerName: KUBELET_CLIENT_SIGNER, request: { subject: nodeClientSubject(nodeName) },
    usages: kubeletClientUsages, satisfied: (cert) => satisfiesNodeClientTemplate(cert, nodeName),
  };
}

/**
 * The node's serving certificate (upstream NewKubeletServerCertificateManager): the node's
 * subject, its host names and IPs as subject alternative names, signer kubernetes.io/kubelet-serving.
 * A certificate whose names no longer match the node's addresses is replaced.
 */
export function nodeServingTemplate(nodeName: string, dnsNames: readonly string[], ipAddresses: readonly string[]): RotationTemplate {
  const want = [...dnsNames.map((d) => `DNS:${d}`), ...ipAddresses.map((ip) => `IP Address:${ip}`)].sort().join(', ');
  return {
    what: 'serving', prefix: 'kubelet-server', signerName: KUBELET_SERVING_SIGNER,
    request: { subject: nodeClientSubject(nodeName), dnsNames, ipAddresses },
    usages: (key) => (key.asymmetricKeyType === 'rsa' ? ['digital signature', 'key encipherment', 'server auth'] : ['digital signature', 'server auth']),
    satisfied: (cert) => satisfiesNodeClientTemplate(cert, nodeName) && (cert.subjectAltName ?? '').split(', ').sort().join(', ') === want,
  };
}

export interface ClientCertificateRotatorDeps {
  /** The API client with the node's current credentials (the kubeconfig pointing at `-current.pem`). */
  readonly client: KubeClient;
  readonly certDir: string;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Called after each new certificate is in place (main: client.reload()); a rejection is logged. */
  readonly onRotated: () => Promise<void>;
  /** Source of the jitter, [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Rotate at once, whatever the current certificate's validity (upstream forceRotation). */
  readonly forceRotation?: boolean;
  /** Per-attempt CSR wait, ms. Default ROTATION_WAIT_TIMEOUT_MS. */
  readonly waitTimeoutMs?: number;
  /** What to request; default the node's client certificate. */
  readonly template?: RotationTemplate;
}

export interface RotationResult {
  readonly csrName: string;
  readonly file: string;
  /** CSR filed to certificate stored, ms. */
  readonly waitedMs: number;
}

export interface CertificateRotator {
  /** Runs until the signal aborts; resolves then. Never rejects for a failed rotation. */
  run(signal: AbortSignal): Promise<void>;
}

export class ClientCertificateRotator implements CertificateRotator {
  private readonly deps: ClientCertificateRotatorDeps;
  private readonly store: CertificateFileStore;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly template: RotationTemplate;

  constructor(deps: ClientCertificateRotatorDeps) {
    this.deps = deps;
    this.template = deps.template ?? nodeClientTemplate(deps.nodeName);
    this.store = new CertificateFileStore(deps.certDir, this.template.prefix);
    this.log = deps.logger.child({ component: 'certificate-manager', certificate: this.template.what });
    this.random = deps.random ?? Math.random;
  }

  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.loop(signal);
    } catch (err) {
      if (!signal.aborted && !isAbort(err)) this.log.error({ err: errorMessage(err) }, 'certificate rotation stopped unexpectedly');
    }
  }

  /**
   * One rotation: a new P-256 key, a CSR with generateName `csr-` filed with the current
   * credentials, a wait of up to waitTimeoutMs for its certificate, then the store update.
   * Does not call onRotated. Rejects on any failure (KubeApiError, InvalidInput for a denied
   * CSR, Transient on timeout) and with the signal's reason when aborted.
   */
  async rotate(signal: AbortSignal): Promise<RotationResult> {
    const key = generateEcKey();
    const csr = makeCertificateRequest(this.template.request, key.key);
    const started = this.deps.clock.now();
    const req = await requestCertificate(this.deps.client, {
      csrPem: csr.pem,
      signerName: this.template.signerName,
      usages: this.template.usages(key.key),
      privateKey: key.key,
      clock: this.deps.clock,
      signal,
    });
    this.log.info({ csr: req.name }, `requested a new ${this.template.what} certificate, waiting for it to be issued`);
    const certPem = await waitForCertificate(this.deps.client, req.name, req.uid, {
      clock: this.deps.clock,
      logger: this.log,
      timeoutMs: this.deps.waitTimeoutMs ?? ROTATION_WAIT_TIMEOUT_MS,
      signal,
    });
    const file = await this.store.update(certPem, key.pem, this.deps.clock.now());
    return { csrName: req.name, file, waitedMs: this.deps.clock.now() - started };
  }

  private async current(): Promise<CertificatePair | undefined> {
    try {
      return await this.store.current();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, `no usable current ${this.template.what} certificate, rotating now`);
      return undefined;
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { clock } = this.deps;
    await this.store.recover();
    let force = this.deps.forceRotation ?? false;
    let deadline = 0;
    let deadlineFor = ''; // fingerprint of the certificate `deadline` was drawn for
    while (!signal.aborted) {
      const cur = await this.current();
      const leaf = cur?.certificates[0];
      if (force || !leaf || !this.template.satisfied(leaf)) {
        deadline = clock.now();
        deadlineFor = '';
      } else if (leaf.fingerprint256 !== deadlineFor) {
        const { notBefore, notAfter } = validity(leaf);
        deadline = rotationDeadline(notBefore, notAfter, this.random());
        deadlineFor = leaf.fingerprint256;
        this.log.info({ expiration: new Date(notAfter).toISOString(), deadline: new Date(deadline).toISOString() }, 'certificate rotation deadline determined');
      }
      const waitMs = deadline - clock.now();
      if (waitMs > 0) {
        await clock.sleep(Math.min(waitMs, MAX_SLEEP_MS), signal);
        continue; // re-read the file: it may have been replaced meanwhile
      }
      force = false;
      await this.rotateWithRetry(signal);
      deadlineFor = '';
      try {
        await this.deps.onRotated();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'using the new certificate failed');
      }
    }
  }

  private async rotateWithRetry(signal: AbortSignal): Promise<void> {
    for (let failures = 0; ; ) {
      try {
        const r = await this.rotate(signal);
        this.log.info({ csr: r.csrName, file: r.file, waitedMs: r.waitedMs }, `${this.template.what} certificate rotated`);
        return;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        failures++;
        const delayMs = rotationRetryDelayMs(failures, this.random());
        this.log.warn({ err: errorMessage(err), failures, retryInMs: delayMs }, `${this.template.what} certificate rotation failed`);
        await this.deps.clock.sleep(delayMs, signal);
      }
    }
  }
}
