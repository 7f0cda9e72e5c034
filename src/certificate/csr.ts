// PKCS#10 certificate requests (RFC 2986), built byte by byte as upstream's certutil.MakeCSR
// (Go crypto/x509.CreateCertificateRequest) writes them for the kubelet: an ECDSA key, signature
// ecdsa-with-SHA256, the subject in Go's attribute order, and the subjectAltName extension
// requested only when there are DNS names or IP addresses. Pure apart from node:crypto signing.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { invalidInput, unsupported } from '../common/errors.ts';
import { bitString, context0, directoryString, integer, octetString, oid, readChildren, readElement, sequence, set, tlv, TAG } from './der.ts';
import { pemDecodeAll, pemEncode } from './pem.ts';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** The subject fields the kubelet uses (upstream pkix.Name CommonName and Organization). */
export interface CertificateSubject {
  readonly commonName: string;
  readonly organizations: readonly string[];
}

/** A node's client identity: upstream `O=system:nodes, CN=system:node:<nodeName>`. */
export function nodeClientSubject(nodeName: string): CertificateSubject {
  return { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] };
}

export interface CertificateRequestTemplate {
  readonly subject: CertificateSubject;
  /** subjectAltName dNSName entries (for a serving certificate); none for a client one. */
  readonly dnsNames?: readonly string[];
  /** subjectAltName iPAddress entries, IPv4 or IPv6 text. */
  readonly ipAddresses?: readonly string[];
}

/**
 * The subject Name as Go's pkix.Name.ToRDNSequence orders it (Organization before CommonName),
 * one RDN per attribute type holding all its values.
 */
export function encodeSubject(subject: CertificateSubject): Buffer {
  const rdn = (type: string, values: readonly string[]): Buffer[] =>
    values.length === 0 ? [] : [set(...values.map((v) => sequence(oid(type), directoryString(v))))];
  return sequence(...rdn(OID_ORGANIZATION, subject.organizations), ...rdn(OID_COMMON_NAME, subject.commonName ? [subject.commonName] : []));
}

/** The 4 or 16 bytes of an IP address. Throws InvalidInput when `ip` is not one. */
export function ipAddressBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw invalidInput(`${JSON.stringify(ip)} is not an IP address`);
  let text = ip.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipAddressBytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parts = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const groups = tail === undefined ? parts(head) : [...parts(head), ...Array<string>(8 - parts(head).length - parts(tail).length).fill('0'), ...parts(tail)];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The extensionRequest attribute carrying subjectAltName, or nothing when there are no names. */
function extensionRequestAttributes(template: CertificateRequestTemplate): Buffer[] {
  const dns = template.dnsNames ?? [];
  const ips = template.ipAddresses ?? [];
  if (dns.length === 0 && ips.length === 0) return [];
  return [sequence(oid(OID_EXTENSION_REQUEST), set(sequence(subjectAltNameExtension(dns, ips))))];
}

/** The subjectAltName Extension (non-critical) with dNSName and iPAddress entries. Throws InvalidInput on a bad name. */
export function subjectAltNameExtension(dns: readonly string[], ips: readonly string[]): Buffer {
  for (const name of dns) if (!/^[\x21-\x7e]+$/.test(name)) throw invalidInput(`DNS name ${JSON.stringify(name)} is not printable ASCII`);
  const generalNames = sequence(
    ...dns.map((name) => tlv(TAG.CONTEXT_2_PRIMITIVE, Buffer.from(name, 'ascii'))),
    ...ips.map((ip) => tlv(TAG.CONTEXT_7_PRIMITIVE, ipAddressBytes(ip))),
  );
  return sequence(oid(OID_SUBJECT_ALT_NAME), octetString(generalNames));
}

/** The SubjectPublicKeyInfo DER of a private or public key. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/**
 * A signed CertificationRequest for `privateKey` (an EC key; anything else throws Unsupported).
 * Returns the DER and its PEM ('CERTIFICATE REQUEST'). Throws InvalidInput on a bad SAN entry.
 */
export function makeCertificateRequest(template: CertificateRequestTemplate, privateKey: KeyObject): { der: Buffer; pem: string } {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ec') {
    throw unsupported(`certificate requests are signed with an EC private key, got a ${privateKey.type} ${privateKey.asymmetricKeyType ?? ''} key`);
  }
  const info = sequence(integer(0), encodeSubject(template.subject), subjectPublicKeyInfo(privateKey), context0(...extensionRequestAttributes(template)));
  const signature = sign('sha256', info, privateKey); // DER Ecdsa-Sig-Value
  const der = sequence(info, sequence(oid(OID_ECDSA_WITH_SHA256)), bitString(signature));
  return { der, pem: pemEncode('CERTIFICATE REQUEST', der) };
}

/** The parts of a CertificationRequest that a compatibility check compares (each a whole DER element). */
export interface ParsedCertificateRequest {
  readonly info: Buffer;
  readonly subject: Buffer;
  readonly subjectPublicKeyInfo: Buffer;
  readonly signatureAlgorithm: Buffer;
  /** The signature bytes (the BIT STRING's contents without its unused-bits byte). */
  readonly signature: Buffer;
}

/** Takes a PEM or DER request apart. Throws InvalidInput when it is not a CertificationRequest. */
export function parseCertificateRequest(data: Buffer | string): ParsedCertificateRequest {
  let der: Buffer;
  if (typeof data === 'string') {
    const block = pemDecodeAll(data).find((b) => b.type === 'CERTIFICATE REQUEST');
    if (!block) throw invalidInput('PEM block type must be CERTIFICATE REQUEST');
    der = block.der;
  } else {
    der = data;
  }
  const outer = readElement(der);
  const parts = outer.tag === TAG.SEQUENCE ? readChildren(outer.contents) : [];
  const infoParts = parts[0]?.tag === TAG.SEQUENCE ? readChildren(parts[0].contents) : [];
  if (parts.length !== 3 || infoParts.length < 3 || parts[2]!.tag !== TAG.BIT_STRING) throw invalidInput('not a PKCS#10 CertificationRequest');
  return {
    info: parts[0]!.encoded,
    subject: infoParts[1]!.encoded,
    subjectPublicKeyInfo: infoParts[2]!.encoded,
    signatureAlgorithm: parts[1]!.encoded,
    signature: parts[2]!.contents.subarray(1),
  };
}

/** True when the request is signed with ecdsa-with-SHA256 by the private half of `publicKey`. */
export function verifyCertificateRequest(req: ParsedCertificateRequest, publicKey: KeyObject): boolean {
  if (!req.signatureAlgorithm.equals(sequence(oid(OID_ECDSA_WITH_SHA256)))) return false;
  try {
    return verify('sha256', req.info, publicKey, req.signature);
  } catch {
    return false;
  }
}

/** certificates.k8s.io/v1 KeyUsage values the kubelet requests. */
export type KeyUsage = 'digital signature' | 'key encipherment' | 'client auth' | 'server auth';

/**
 * Usages of a kubelet client certificate (upstream DefaultKubeletClientGetUsages and the
 * bootstrap's requestNodeCertificate): key encipherment only for RSA keys, so none for ours.
 */
export function kubeletClientUsages(key: KeyObject): KeyUsage[] {
  return key.asymmetricKeyType === 'rsa' ? ['digital signature', 'key encipherment', 'client auth'] : ['digital signature', 'client auth'];
}

/**
 * The bootstrap CSR's name (upstream bootstrap.digestedName): `node-csr-` + unpadded base64url of
 * SHA-512/256 over base64url(SPKI DER), CN, each O and each usage, each followed by '|'. The same
 * key, subject and usages give the same name, so a kubelet restarted while waiting for approval
 * finds its own CSR again instead of filing a second one.
 */
export function digestedName(spkiDer: Buffer, subject: CertificateSubject, usages: readonly string[]): string {
  const hash = createHash('sha512-256');
  const write = (data: Buffer): void => {
    hash.update(data.toString('base64url'));
    hash.update('|');
  };
  write(spkiDer);
  write(Buffer.from(subject.commonName));
  for (const o of subject.organizations) write(Buffer.from(o));
  for (const u of usages) write(Buffer.from(u));
  return `node-csr-${hash.digest('base64url')}`;
}
