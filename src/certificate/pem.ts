// PEM (RFC 7468) blocks, certificates and private keys as upstream's certutil/keyutil handle them.
// Pure apart from node:crypto parsing.
import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { invalidInput } from '../common/errors.ts';

export interface PemBlock {
  /** The label: 'CERTIFICATE', 'EC PRIVATE KEY', 'CERTIFICATE REQUEST', ... */
  type: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** One block, base64 wrapped at 64 columns, ending in a newline (as Go's pem.Encode). */
export function pemEncode(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN ${type}-----\n${b64}-----END ${type}-----\n`;
}

/** Every block in `text`, in order; text outside blocks is ignored (as Go's pem.Decode does). */
export function pemDecodeAll(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.split(/\r?\n/).filter((line) => line && !line.includes(':')).join('');
    out.push({ type: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** The CERTIFICATE blocks of `text` parsed. Throws InvalidInput when there is none or one is bad. */
export function parseCertificates(text: string): X509Certificate[] {
  const blocks = pemDecodeAll(text).filter((b) => b.type === 'CERTIFICATE');
  if (blocks.length === 0) throw invalidInput('data contains no PEM certificate');
  return blocks.map((b) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw invalidInput(`malformed certificate: ${(err as Error).message}`, err);
    }
  });
}

/** Private-key PEM labels upstream keyutil.ParsePrivateKeyPEM accepts. */
const KEY_TYPES = new Set(['EC PRIVATE KEY', 'RSA PRIVATE KEY', 'PRIVATE KEY']);

/** The first private-key block of `text`, re-encoded alone, and the key. Throws InvalidInput when there is none. */
export function parsePrivateKey(text: string): { pem: string; key: KeyObject } {
  const block = pemDecodeAll(text).find((b) => KEY_TYPES.has(b.type));
  if (!block) throw invalidInput('data contains no PEM private key');
  const pem = pemEncode(block.type, block.der);
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch (err) {
    throw invalidInput(`malformed private key: ${(err as Error).message}`, err);
  }
}

/** A new ECDSA P-256 key (upstream's kubelet keys), with its PEM in SEC1 form ('EC PRIVATE KEY'). */
export function generateEcKey(): { pem: string; key: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { pem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(), key: privateKey };
}

/** Certificate validity as epoch ms. */
export function validity(cert: X509Certificate): { notBefore: number; notAfter: number } {
  return { notBefore: cert.validFromDate.getTime(), notAfter: cert.validToDate.getTime() };
}
