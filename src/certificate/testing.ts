// Test helpers for this folder's unit tests (not used by the agent): a throw-away CA that signs
// certificate requests with chosen validity, and a fake of the CertificateSigningRequest API
// (create, get, list, watch by name) that approves and signs like the controller-manager.
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { KubeApiError, type KubeClient, type RequestOptionsKube, type WatchEventType } from '../kube/client.ts';
import { parseCertificateRequest, subjectPublicKeyInfo } from './csr.ts';
import { bitString, directoryString, integer, oid, sequence, set, tlv } from './der.ts';
import { generateEcKey, pemEncode } from './pem.ts';
import { CSR_PATH, type CertificateSigningRequest } from './request.ts';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** GeneralizedTime (always; valid for any year), e.g. 20250102030405Z. */
function generalizedTime(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2025-01-02T03:04:05.000Z
  return tlv(0x18, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, 'ascii'));
}

/** A CA with a P-256 key whose certificates carry no extensions (enough for X509Certificate). */
export class TestCa {
  readonly key: KeyObject;
  readonly name: Buffer;
  readonly certPem: string;
  private serial = 1n;

  constructor(commonName = 'test-ca') {
    this.key = generateEcKey().key;
    this.name = sequence(set(sequence(oid('2.5.4.3'), directoryString(commonName))));
    const now = Date.now();
    this.certPem = this.issue(this.name, subjectPublicKeyInfo(this.key), now - 60_000, now + 86_400_000);
  }

  /** Signs the request's subject and key for [notBefore, notAfter] (epoch ms). Returns the certificate PEM. */
  signRequest(csrPem: string, notBefore: number, notAfter: number): string {
    const req = parseCertificateRequest(csrPem);
    return this.issue(req.subject, req.subjectPublicKeyInfo, notBefore, notAfter);
  }

  private issue(subject: Buffer, spki: Buffer, notBefore: number, notAfter: number): string {
    const alg = sequence(oid(OID_ECDSA_WITH_SHA256));
    const tbs = sequence(
      tlv(0xa0, integer(2)), // [0] EXPLICIT version v3
      integer(this.serial++),
      alg,
      this.name,
      sequence(generalizedTime(notBefore), generalizedTime(notAfter)),
      subject,
      spki,
    );
    const der = sequence(tbs, alg, bitString(sign('sha256', tbs, this.key)));
    return pemEncode('CERTIFICATE', der);
  }
}

type Listener = (type: WatchEventType, object: unknown) => void;

export interface FakeCsrApiOptions {
  /** The CA that signs approved requests. */
  readonly ca: TestCa;
  /** Validity of issued certificates: [now() - 1 s, now() + validityMs]. */
  readonly validityMs?: number;
  readonly now?: () => number;
  /** 'approve' (default): approve and sign right after creation; 'deny'; 'manual': leave pending. */
  readonly mode?: 'approve' | 'deny' | 'manual';
}

/** A fake KubeClient serving only the CSR API (and /version), with resourceVersions and watch replay. */
export class FakeCsrApi implements KubeClient {
  readonly server = 'https://fake';
  readonly csrs = new Map<string, CertificateSigningRequest>();
  /** Every call as `METHOD path`. */
  readonly calls: string[] = [];
  /** Rejections to return for the next POSTs, in order. */
  readonly postFailures: KubeApiError[] = [];
  mode: 'approve' | 'deny' | 'manual';
  reloads = 0;
  private rv = 1;
  private readonly history: { rv: number; type: WatchEventType; object: CertificateSigningRequest }[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly opts: FakeCsrApiOptions;

  constructor(opts: FakeCsrApiOptions) {
    this.opts = opts;
    this.mode = opts.mode ?? 'approve';
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private emit(type: WatchEventType, csr: CertificateSigningRequest): void {
    csr.metadata!.resourceVersion = String(++this.rv);
    const object = structuredClone(csr);
    this.history.push({ rv: this.rv, type, object });
    for (const l of this.listeners) l(type, structuredClone(object));
  }

  /** Approves and signs the CSR (as the controller-manager's approver and signer). */
  approve(name: string): void {
    const csr = this.csrs.get(name)!;
    csr.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'test' }] };
    this.emit('MODIFIED', csr);
    const now = this.now();
    const pem = this.opts.ca.signRequest(Buffer.from(csr.spec!.request!, 'base64').toString(), now - 1_000, now + (this.opts.validityMs ?? 3_600_000));
    csr.status.certificate = Buffer.from(pem).toString('base64'); // the leaf only, as the kube-controller-manager signer
    this.emit('MODIFIED', csr);
  }

  deny(name: string): void {
    const csr = this.csrs.get(name)!;
    csr.status = { conditions: [{ type: 'Denied', status: 'True', reason: 'TestDenied', message: 'not you' }] };
    this.emit('MODIFIED', csr);
  }

  async request<T>(method: string, path: string, opts: RequestOptionsKube = {}): Promise<T> {
    this.calls.push(`${method} ${path}`);
    await Promise.resolve();
    if (path === '/version') return { gitVersion: 'v0.0.0-fake' } as T;
    if (method === 'POST' && path === CSR_PATH) {
      const failure = this.postFailures.shift();
      if (failure) throw failure;
      const csr = structuredClone(opts.body as CertificateSigningRequest);
      const name = csr.metadata?.name ?? `${csr.metadata?.generateName ?? ''}${randomBytes(3).toString('hex')}`;
      if (this.csrs.has(name)) throw new KubeApiError('Transient', 409, 'AlreadyExists', `certificatesigningrequests "${name}" already exists`);
      csr.metadata = { ...csr.metadata, name, uid: randomBytes(8).toString('hex') };
      this.csrs.set(name, csr);
      this.emit('ADDED', csr);
      if (this.mode === 'approve') setImmediate(() => this.approve(name));
      if (this.mode === 'deny') setImmediate(() => this.deny(name));
      return structuredClone(csr) as T;
    }
    if (method === 'GET' && path === CSR_PATH) {
      const sel = String(opts.query?.fieldSelector ?? '').replace(/^metadata\.name=/, '');
      const items = [...this.csrs.values()].filter((c) => !sel || c.metadata?.name === sel);
      return { metadata: { resourceVersion: String(this.rv) }, items: structuredClone(items) } as T;
    }
    if (method === 'GET' && path.startsWith(`${CSR_PATH}/`)) {
      const csr = this.csrs.get(path.slice(CSR_PATH.length + 1));
      if (!csr) throw new KubeApiError('NotFound', 404, 'NotFound', 'not found');
      return structuredClone(csr) as T;
    }
    if (method === 'DELETE' && path.startsWith(`${CSR_PATH}/`)) {
      const name = path.slice(CSR_PATH.length + 1);
      const csr = this.csrs.get(name);
      if (csr) {
        this.csrs.delete(name);
        this.emit('DELETED', csr);
      }
      return {} as T;
    }
    throw new KubeApiError('NotFound', 404, 'NotFound', `fake: no route for ${method} ${path}`);
  }

  watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: Listener, signal: AbortSignal): Promise<void> {
    this.calls.push(`WATCH ${path}`);
    const sel = String(query.fieldSelector ?? '').replace(/^metadata\.name=/, '');
    const from = Number(query.resourceVersion ?? 0);
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const listener: Listener = (type, object) => {
        if (sel && (object as CertificateSigningRequest).metadata?.name !== sel) return;
        try {
          onEvent(type, object);
        } catch (err) {
          this.listeners.delete(listener);
          reject(err as Error);
        }
      };
      for (const h of this.history) if (h.rv > from) listener(h.type, structuredClone(h.object));
      this.listeners.add(listener);
      signal.addEventListener(
        'abort',
        () => {
          this.listeners.delete(listener);
          reject(signal.reason as Error);
        },
        { once: true },
      );
      void resolve;
    });
  }

  reload(): Promise<void> {
    this.reloads++;
    return Promise.resolve();
  }

  close(): void {}
}
