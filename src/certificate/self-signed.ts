// A self-signed serving certificate, for when the kubelet has neither --tls-cert-file nor
// serverTLSBootstrap: upstream then writes <certDir>/kubelet.crt and kubelet.key for
// `<hostname>@<unix time>`, valid one year, for the host name, the node's IPs and localhost.
// Built as an X.509 v3 certificate (RFC 5280) with the DER encoder; ECDSA P-256, SHA-256.
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { bitString, integer, oid, octetString, sequence, tlv } from './der.ts';
import { OID_ECDSA_WITH_SHA256, encodeSubject, subjectAltNameExtension, subjectPublicKeyInfo } from './csr.ts';
import { pemEncode } from './pem.ts';

const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const TAG_BOOLEAN = 0x01;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_CONTEXT_0_EXPLICIT = 0xa0;
const TAG_CONTEXT_3_EXPLICIT = 0xa3;
/** Upstream's self-signed serving certificate lifetime: one year. */
export const SELF_SIGNED_VALIDITY_MS = 365 * 24 * 3_600_000;

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime after. */
function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-11-28T23:40:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20261128234000Z
  return new Date(ms).getUTCFullYear() < 2050 ? tlv(TAG_UTC_TIME, Buffer.from(digits.slice(2), 'ascii')) : tlv(TAG_GENERALIZED_TIME, Buffer.from(digits, 'ascii'));
}

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [tlv(TAG_BOOLEAN, Buffer.from([0xff]))] : []), octetString(value));

export interface ServingCertificateTemplate {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

/**
 * A self-signed server-auth certificate for `privateKey` (EC), as PEM. Pure apart from the
 * random serial number. Throws InvalidInput on a bad SAN entry.
 */
export function makeSelfSignedCertificate(t: ServingCertificateTemplate, privateKey: KeyObject): string {
  const name = encodeSubject({ commonName: t.commonName, organizations: [] });
  const algorithm = sequence(oid(OID_ECDSA_WITH_SHA256));
  const serial = BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n; // positive, < 2^127
  const extensions = [
    // digitalSignature (bit 0) and keyEncipherment (bit 2): 0b101 << 5, 5 unused bits.
    extension(OID_KEY_USAGE, true, tlv(0x03, Buffer.from([5, 0xa0]))),
    extension(OID_EXT_KEY_USAGE, false, sequence(oid(OID_SERVER_AUTH))),
    extension(OID_BASIC_CONSTRAINTS, true, sequence()),
    subjectAltNameExtension(t.dnsNames, t.ipAddresses),
  ];
  const tbs = sequence(
    tlv(TAG_CONTEXT_0_EXPLICIT, integer(2)),
    integer(serial),
    algorithm,
    name,
    sequence(time(t.notBeforeMs), time(t.notAfterMs)),
    name,
    subjectPublicKeyInfo(privateKey),
    tlv(TAG_CONTEXT_3_EXPLICIT, sequence(...extensions)),
  );
  const der = sequence(tbs, algorithm, bitString(sign('sha256', tbs, privateKey)));
  return pemEncode('CERTIFICATE', der);
}
