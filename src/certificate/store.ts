// The certificate store of upstream client-go util/certificate (fileStore) for the pair prefix
// `kubelet-client`: each issued certificate is written with its key as
// `<certDir>/kubelet-client-<YYYY-MM-DD-HH-MM-SS>.pem` (certificate chain, then key; 0600) and
// `<certDir>/kubelet-client-current.pem` is a symlink to the newest one, swapped atomically by
// renaming a fresh `kubelet-client-updated.pem` symlink over it. The kubeconfig names the
// `-current` path for both its client certificate and key, so it never changes.
import type { X509Certificate, KeyObject } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, rm, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { KubeletError, invalidInput, notFound } from '../common/errors.ts';
import { parseCertificates, parsePrivateKey, pemEncode } from './pem.ts';

export const KUBELET_CLIENT_PREFIX = 'kubelet-client';
/** Mode of a new cert dir: only the kubelet reads its keys. */
const CERT_DIR_MODE = 0o700;
/** Mode of every file holding a private key. */
export const KEY_FILE_MODE = 0o600;

/** A loaded pair: the chain (leaf first) and its key. */
export interface CertificatePair {
  readonly certificates: readonly X509Certificate[];
  readonly keyPem: string;
  readonly key: KeyObject;
  /** The file it came from. */
  readonly file: string;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** Upstream's Go layout "2006-01-02-15-04-05", local time. Pure. */
export function timestampName(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}-${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`;
}

/** `<prefix>-<qualifier>.pem`. Pure. */
export const pairFileName = (prefix: string, qualifier: string): string => `${prefix}-${qualifier}.pem`;

/**
 * Parses a certificate chain and its key and checks they belong together (as Go's
 * tls.X509KeyPair). Throws InvalidInput otherwise. Pure apart from node:crypto.
 */
export function parsePair(certPem: string, keyPem: string, file = ''): CertificatePair {
  const certificates = parseCertificates(certPem);
  const { pem, key } = parsePrivateKey(keyPem);
  if (!certificates[0]!.checkPrivateKey(key)) throw invalidInput('private key does not match the certificate');
  return { certificates, keyPem: pem, key, file };
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function isSymlinkOrAbsent(p: string): Promise<boolean> {
  try {
    const st = await lstat(p);
    if (!st.isSymbolicLink()) throw new KubeletError('Internal', `expected ${p} to be a symlink but it is a file`);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Creates `certDir` (0700) when missing; an existing dir keeps its mode. */
export async function ensureCertDir(certDir: string): Promise<void> {
  await mkdir(certDir, { recursive: true, mode: CERT_DIR_MODE });
}

/** Writes `data` to `file` (mode) through a temp file + fsync + rename: readers never see half. */
export async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed or the file pre-existed
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export class CertificateFileStore {
  readonly certDir: string;
  readonly prefix: string;

  constructor(certDir: string, prefix = KUBELET_CLIENT_PREFIX) {
    this.certDir = path.resolve(certDir);
    this.prefix = prefix;
  }

  /** `<certDir>/kubelet-client-current.pem`: what the kubeconfig points at. */
  currentPath(): string {
    return path.join(this.certDir, pairFileName(this.prefix, 'current'));
  }

  /**
   * Upstream recover(): a crash between creating `-updated` and renaming it leaves no `-current`;
   * finish the swap. Call once before using the store.
   */
  async recover(): Promise<void> {
    if (await exists(this.currentPath())) return;
    const updated = path.join(this.certDir, pairFileName(this.prefix, 'updated'));
    if (await isSymlinkOrAbsent(updated)) await rename(updated, this.currentPath());
  }

  /**
   * The current pair: `-current.pem`, else `<prefix>.crt` + `<prefix>.key` (upstream's fallback).
   * Throws NotFound when there is none, InvalidInput when the files do not hold a matching pair.
   */
  async current(): Promise<CertificatePair> {
    const candidates: [string, string][] = [
      [this.currentPath(), this.currentPath()],
      [path.join(this.certDir, `${this.prefix}.crt`), path.join(this.certDir, `${this.prefix}.key`)],
    ];
    for (const [certFile, keyFile] of candidates) {
      let certPem: string;
      let keyPem: string;
      try {
        certPem = await readFile(certFile, 'utf8');
        keyPem = certFile === keyFile ? certPem : await readFile(keyFile, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      try {
        return parsePair(certPem, keyPem, certFile);
      } catch (err) {
        throw invalidInput(`could not convert data from ${certFile} into a cert/key pair: ${(err as Error).message}`, err);
      }
    }
    throw notFound(`no cert/key files read at ${this.currentPath()} or (${candidates[1]![0]}, ${candidates[1]![1]})`);
  }

  /**
   * Writes a new pair file named after `nowMs` and points `-current.pem` at it (atomic symlink
   * swap). Throws InvalidInput when the certificate and key do not parse or do not match, before
   * touching any file. Resolves to the new file's path.
   */
  async update(certPem: string, keyPem: string, nowMs: number): Promise<string> {
    const pair = parsePair(certPem, keyPem);
    await ensureCertDir(this.certDir);
    const file = path.join(this.certDir, pairFileName(this.prefix, timestampName(nowMs)));
    const data = pair.certificates.map((c) => pemEncode('CERTIFICATE', c.raw)).join('') + pair.keyPem;
    await writeFileAtomic(file, data, KEY_FILE_MODE);
    await isSymlinkOrAbsent(this.currentPath()); // refuse to replace a regular file
    const updated = path.join(this.certDir, pairFileName(this.prefix, 'updated'));
    if (await isSymlinkOrAbsent(updated)) await rm(updated);
    await symlink(file, updated);
    await rename(updated, this.currentPath());
    return file;
  }
}
