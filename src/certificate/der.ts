// A tiny ASN.1 DER encoder (X.690) for the few types a PKCS#10 certificate request needs, and a
// minimal reader of tag-length-value elements to take such a request apart again. Pure.
import { invalidInput } from '../common/errors.ts';

/** Universal and context tags used here (X.680; context tags as upstream's x509 writes them). */
export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] constructed: CertificationRequestInfo.attributes. */
  CONTEXT_0_CONSTRUCTED: 0xa0,
  /** [2] IMPLICIT IA5String: GeneralName.dNSName. */
  CONTEXT_2_PRIMITIVE: 0x82,
  /** [7] IMPLICIT OCTET STRING: GeneralName.iPAddress. */
  CONTEXT_7_PRIMITIVE: 0x87,
} as const;

function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: tag, DER length, contents. */
export function tlv(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(contents.length), contents]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));

/** SET OF: DER orders the encoded elements as byte strings (X.690 11.6). */
export function set(...items: Buffer[]): Buffer {
  return tlv(TAG.SET, Buffer.concat([...items].sort(Buffer.compare)));
}

/** [0] constructed around the given elements (empty allowed: `a0 00`). */
export const context0 = (...items: Buffer[]): Buffer => tlv(TAG.CONTEXT_0_CONSTRUCTED, Buffer.concat(items));

/** A non-negative INTEGER, in the fewest bytes (a leading 0x00 when the top bit is set). */
export function integer(value: number | bigint): Buffer {
  let n = BigInt(value);
  if (n < 0n) throw invalidInput(`DER integer must be >= 0, got ${value}`);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

/** An OBJECT IDENTIFIER from dotted decimal ('1.2.840.10045.4.3.2'). Throws InvalidInput if malformed. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => (/^\d+$/.test(s) ? BigInt(s) : -1n));
  if (arcs.length < 2 || arcs.some((a) => a < 0n) || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) {
    throw invalidInput(`malformed object identifier ${JSON.stringify(dotted)}`);
  }
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let n = arc;
    do {
      groups.unshift(Number(n & 0x7fn));
      n >>= 7n;
    } while (n > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** The PrintableString alphabet (X.680 41.4). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string as Go's encoding/asn1 writes one: PrintableString when it can, else UTF8String. */
export function directoryString(value: string): Buffer {
  return PRINTABLE.test(value) ? tlv(TAG.PRINTABLE_STRING, Buffer.from(value, 'ascii')) : tlv(TAG.UTF8_STRING, Buffer.from(value, 'utf8'));
}

export const utf8String = (value: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(value, 'utf8'));
export const printableString = (value: string): Buffer => {
  if (!PRINTABLE.test(value)) throw invalidInput(`${JSON.stringify(value)} is not a PrintableString`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(value, 'ascii'));
};

/** A BIT STRING of whole bytes (0 unused bits). */
export const bitString = (bytes: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
export const octetString = (bytes: Buffer): Buffer => tlv(TAG.OCTET_STRING, bytes);

/** One element read back: its tag, contents, and the whole encoding (tag + length + contents). */
export interface DerElement {
  tag: number;
  contents: Buffer;
  encoded: Buffer;
}

/** Reads the element at `offset`. Throws InvalidInput when the bytes are not DER (long tags unsupported). */
export function readElement(buf: Buffer, offset = 0): DerElement {
  const bad = (why: string): never => {
    throw invalidInput(`malformed DER at byte ${offset}: ${why}`);
  };
  if (offset + 2 > buf.length) bad('truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) bad('multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) bad(`unsupported length form 0x${len.toString(16)}`);
    if (offset + 2 + n > buf.length) bad('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    head += n;
  }
  const end = offset + head + len;
  if (end > buf.length) bad('contents run past the end');
  return { tag, contents: buf.subarray(offset + head, end), encoded: buf.subarray(offset, end) };
}

/** The elements inside a constructed element's contents, in order. */
export function readChildren(contents: Buffer): DerElement[] {
  const out: DerElement[] = [];
  for (let off = 0; off < contents.length; ) {
    const el = readElement(contents, off);
    out.push(el);
    off += el.encoded.length;
  }
  return out;
}
