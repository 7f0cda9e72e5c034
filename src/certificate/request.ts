// The CertificateSigningRequest API calls, as upstream client-go util/certificate/csr:
// RequestCertificate (create; reuse a compatible CSR of the same name) and WaitForCertificate
// (list + watch one CSR by name until it is issued, denied or failed).
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { KubeletError, invalidInput, isAbort, transient } from '../common/errors.ts';
import { isAlreadyExists, isGone, type KubeClient } from '../kube/client.ts';
import type { Logger } from '../observability/logger.ts';
import { parseCertificateRequest, verifyCertificateRequest, type KeyUsage } from './csr.ts';
import { parseCertificates } from './pem.ts';

export const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
/** Upstream certificatesv1.KubeAPIServerClientKubeletSignerName. */
export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
/** Upstream certificatesv1.KubeletServingSignerName: never auto-approved; an administrator approves. */
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

/** The fields of certificates.k8s.io/v1 CertificateSigningRequest used here. */
export interface CertificateSigningRequest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; generateName?: string; uid?: string; resourceVersion?: string };
  spec?: { request?: string; signerName?: string; usages?: string[]; expirationSeconds?: number; username?: string };
  status?: { conditions?: { type?: string; status?: string; reason?: string; message?: string }[]; certificate?: string };
}

interface CsrList {
  metadata?: { resourceVersion?: string };
  items?: CertificateSigningRequest[];
}

export interface CertificateRequestParams {
  /** PEM of the PKCS#10 request. */
  readonly csrPem: string;
  /** A fixed name (the bootstrap's digested name); undefined = generateName `csr-` (upstream). */
  readonly name?: string;
  readonly signerName: string;
  readonly usages: readonly KeyUsage[];
  /** spec.expirationSeconds; undefined = the signer's default (upstream passes nil). */
  readonly expirationSeconds?: number;
  /** The request's key: an existing CSR of the same name must be signed by it. */
  readonly privateKey: KeyObject;
  /** For the expiry check of an existing CSR's certificate. */
  readonly clock: Clock;
  readonly signal?: AbortSignal;
}

/**
 * Creates the CSR; resolves to its name and UID. When `name` is set and a CSR of that name
 * exists, it is reused if compatible (same subject and signer, signed by our key, no expired
 * certificate), else InvalidInput. API errors are KubeApiError (403: our credentials may not).
 */
export async function requestCertificate(client: KubeClient, p: CertificateRequestParams): Promise<{ name: string; uid: string }> {
  const body: CertificateSigningRequest = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: p.name ? { name: p.name } : { generateName: 'csr-' },
    spec: {
      request: Buffer.from(p.csrPem).toString('base64'),
      signerName: p.signerName,
      usages: [...p.usages],
      ...(p.expirationSeconds === undefined ? {} : { expirationSeconds: p.expirationSeconds }),
    },
  };
  try {
    const created = await client.request<CertificateSigningRequest>('POST', CSR_PATH, { body, signal: p.signal });
    return { name: created.metadata?.name ?? '', uid: created.metadata?.uid ?? '' };
  } catch (err) {
    if (!(p.name && isAlreadyExists(err))) throw err;
  }
  const existing = await client.request<CertificateSigningRequest>('GET', `${CSR_PATH}/${p.name}`, { signal: p.signal });
  const why = incompatibility(existing, body, p.privateKey, p.clock.now());
  if (why) throw invalidInput(`existing certificate signing request ${p.name} is not compatible: ${why}`);
  return { name: existing.metadata?.name ?? p.name, uid: existing.metadata?.uid ?? '' };
}

/** Why an existing CSR cannot stand for ours (upstream ensureCompatible), or '' when it can. Pure. */
export function incompatibility(existing: CertificateSigningRequest, ours: CertificateSigningRequest, privateKey: KeyObject, nowMs: number): string {
  let theirs, mine;
  try {
    theirs = parseCertificateRequest(Buffer.from(existing.spec?.request ?? '', 'base64').toString());
    mine = parseCertificateRequest(Buffer.from(ours.spec?.request ?? '', 'base64').toString());
  } catch (err) {
    return `cannot parse the request: ${(err as Error).message}`;
  }
  if (!theirs.subject.equals(mine.subject)) return 'subjects differ';
  const a = existing.spec?.signerName;
  const b = ours.spec?.signerName;
  if (a && b && a !== b) return `signer names differ: ${a} vs ${b}`;
  if (!verifyCertificateRequest(theirs, createPublicKey(privateKey))) return 'it is not signed by our private key';
  const issued = existing.status?.certificate;
  if (issued) {
    try {
      for (const cert of parseCertificates(Buffer.from(issued, 'base64').toString())) {
        if (nowMs > cert.validToDate.getTime()) return `its certificate expired at ${cert.validTo}`;
      }
    } catch (err) {
      return `its certificate cannot be parsed: ${(err as Error).message}`;
    }
  }
  return '';
}

/** What one observed CSR means for the waiter. Pure. */
export type CsrVerdict = { kind: 'issued'; certificatePem: string } | { kind: 'pending'; approved: boolean } | { kind: 'error'; message: string };

/**
 * Upstream WaitForCertificate's per-event decision: another UID, Denied or Failed are errors
 * (with the condition's reason and message); Approved with status.certificate is issued.
 */
export function csrVerdict(csr: CertificateSigningRequest, uid: string): CsrVerdict {
  const name = csr.metadata?.name ?? '';
  if (uid && csr.metadata?.uid && csr.metadata.uid !== uid) return { kind: 'error', message: `csr ${name} changed UIDs` };
  let approved = false;
  for (const c of csr.status?.conditions ?? []) {
    if (c.type === 'Denied') return { kind: 'error', message: `certificate signing request ${name} is denied, reason: ${c.reason ?? ''}, message: ${c.message ?? ''}` };
    if (c.type === 'Failed') return { kind: 'error', message: `certificate signing request ${name} failed, reason: ${c.reason ?? ''}, message: ${c.message ?? ''}` };
    if (c.type === 'Approved') approved = true;
  }
  if (approved && csr.status?.certificate) return { kind: 'issued', certificatePem: Buffer.from(csr.status.certificate, 'base64').toString() };
  return { kind: 'pending', approved };
}

export interface WaitOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Give up after this long (ms): Transient error. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Pause between failed list/watch calls, ms (upstream retries its v1 list every second). */
const RETRY_MS = 1_000;
/** Server-side watch timeout, s: the watch is renewed from the last resourceVersion after it. */
const WATCH_TIMEOUT_S = 300;

/**
 * Blocks until the CSR `name` (of UID `uid`) is approved and issued; resolves to the certificate
 * chain PEM. Rejects with InvalidInput when it is denied, failed, deleted or replaced; Transient
 * after `timeoutMs`; the signal's reason when aborted. List/watch failures are retried.
 */
export async function waitForCertificate(client: KubeClient, name: string, uid: string, opts: WaitOptions): Promise<string> {
  const stop = new AbortController();
  const timedOut = new KubeletError('Transient', `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for certificate signing request ${name} to be approved and issued`);
  opts.clock.sleep(opts.timeoutMs, stop.signal).then(() => stop.abort(timedOut), () => undefined);
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const query = { fieldSelector: `metadata.name=${name}` };
  let result: string | undefined;
  let failure: KubeletError | undefined;
  let lastLogged = '';
  const observe = (csr: CertificateSigningRequest): boolean => {
    const v = csrVerdict(csr, uid);
    if (v.kind === 'issued') result = v.certificatePem;
    else if (v.kind === 'error') failure = invalidInput(v.message);
    else if (v.approved && lastLogged !== 'approved') {
      lastLogged = 'approved';
      opts.logger.info({ csr: name }, 'certificate signing request is approved, waiting to be issued');
    }
    return result !== undefined || failure !== undefined;
  };
  try {
    let resourceVersion = '';
    while (result === undefined && failure === undefined) {
      try {
        if (!resourceVersion) {
          const list = await client.request<CsrList>('GET', CSR_PATH, { query, signal });
          const csr = list.items?.[0];
          if (!csr) {
            failure = invalidInput(`certificate signing request ${name} was deleted`);
            break;
          }
          if (observe(csr)) break;
          resourceVersion = list.metadata?.resourceVersion ?? '';
        }
        const inner = new AbortController();
        const watchSignal = AbortSignal.any([signal, inner.signal]);
        const watchStarted = opts.clock.now();
        await client
          .watch(CSR_PATH, { ...query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_S }, (type, object) => {
            const csr = object as CertificateSigningRequest;
            if (csr.metadata?.resourceVersion) resourceVersion = csr.metadata.resourceVersion;
            if (type === 'DELETED') failure = invalidInput(`certificate signing request ${name} was deleted`);
            else if (type === 'ADDED' || type === 'MODIFIED') observe(csr);
            if (result !== undefined || failure !== undefined) inner.abort();
          }, watchSignal)
          .catch((err: unknown) => {
            if (!inner.signal.aborted || signal.aborted) throw err;
          });
        // A watch the server ends at once (not its timeout) must not become a busy loop.
        if (result === undefined && failure === undefined && opts.clock.now() - watchStarted < RETRY_MS) await opts.clock.sleep(RETRY_MS, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        if (isGone(err)) resourceVersion = '';
        else {
          opts.logger.info({ csr: name, err: (err as Error).message }, 'cannot watch the certificate signing request, retrying');
          await opts.clock.sleep(RETRY_MS, signal);
        }
      }
    }
  } catch (err) {
    // Only an aborted signal (caller's, or the timeout's) ends the loop by an exception.
    if (signal.aborted) throw signal.reason;
    throw isAbort(err) ? err : transient(`waiting for certificate signing request ${name}: ${(err as Error).message}`, err);
  } finally {
    stop.abort();
  }
  if (failure) throw failure;
  return result!;
}
