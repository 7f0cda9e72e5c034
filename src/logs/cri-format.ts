// The CRI container log format (what containerd and CRI-O write, upstream kuberuntime/logs):
//   <RFC3339Nano timestamp> <stdout|stderr> <tag[:tag...]> <content>\n
// The first tag is F (full: the content ends the line, its newline is part of it) or P (partial:
// the record is a piece of a longer line and its newline is only the record separator).
// Pure functions over bytes and strings; no I/O.
//
// Index:
//   type LogStream, type LogTime, interface CriLogHeader, interface CriLogRecord
//   MAX_CRI_HEADER_BYTES
//   parseRfc3339(text): { time: LogTime; fixed: string } | null
//   logTimeFromMs(ms): LogTime;  compareLogTime(a, b): number
//   parseCriHeader(bytes): CriLogHeader | null    (bytes = the record up to and including its 3rd space)
//   criHeaderLength(bytes): number               (length of the header in the bytes, -1 if none)
//   parseCriLine(line): CriLogRecord | null       (one whole record, with or without its '\n')

export type LogStream = 'stdout' | 'stderr';

/** An instant with nanosecond precision: whole seconds since the epoch and the nanoseconds within. */
export interface LogTime {
  seconds: number;
  nanos: number;
}

export interface CriLogHeader {
  time: LogTime;
  /** The timestamp as upstream writes it with `timestamps=true` (RFC3339NanoFixed: 9 fraction digits, 'Z' for UTC). */
  timestampText: string;
  stream: LogStream;
  /** The P tag: the content continues in a later record of the same stream (no newline). */
  partial: boolean;
}

export interface CriLogRecord extends CriLogHeader {
  /** The decoded content: with its '\n' for a full record, without it for a partial one. */
  content: Buffer;
}

/**
 * The longest header accepted (timestamp, stream and tags with their spaces). Real headers are
 * 30 to 45 bytes; a longer one is a malformed line, and bounding it bounds a reader's memory.
 */
export const MAX_CRI_HEADER_BYTES = 256;

const SPACE = 0x20;
const NEWLINE = 0x0a;

// Go's RFC3339 / RFC3339NanoLenient parsing: the fraction is optional, of any length (only 9
// digits are kept) and may start with ',' as well as '.'; the zone is 'Z' or ±hh:mm.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 timestamp as Go's time.Parse does for the kubelet's layouts. Returns null when
 * it is not one. `fixed` is the RFC3339NanoFixed form of the same instant in the same zone.
 */
export function parseRfc3339(text: string): { time: LogTime; fixed: string } | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, ys, mos, ds, hs, mis, ss, frac = '', zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || day < 1) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return null; // e.g. 02-30
  let offsetSeconds = 0;
  if (zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return null;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  }
  const digits = frac.slice(0, 9).padEnd(9, '0');
  const seconds = date.getTime() / 1000 + hour * 3600 + minute * 60 + second - offsetSeconds;
  const fixedZone = offsetSeconds === 0 ? 'Z' : zone;
  return {
    time: { seconds, nanos: Number(digits) },
    fixed: `${ys}-${mos}-${ds}T${hs}:${mis}:${ss}.${digits}${fixedZone}`,
  };
}

/** The instant `ms` milliseconds after the epoch. */
export function logTimeFromMs(ms: number): LogTime {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** <0, 0 or >0 as `a` is before, at or after `b`. */
export function compareLogTime(a: LogTime, b: LogTime): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

/**
 * The length of the header at the start of `bytes` (through its third space), or -1 when the bytes
 * hold no complete header: a newline comes first, or it would be longer than MAX_CRI_HEADER_BYTES.
 */
export function criHeaderLength(bytes: Uint8Array): number {
  let spaces = 0;
  const n = Math.min(bytes.length, MAX_CRI_HEADER_BYTES);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === NEWLINE) return -1;
    if (b === SPACE && ++spaces === 3) return i + 1;
  }
  return -1;
}

/**
 * Parses a header: `bytes` runs from the start of the record through the space after the tags
 * (see criHeaderLength). Null when malformed (bad timestamp, unknown stream). An empty or unknown
 * tag means a full record, as upstream.
 */
export function parseCriHeader(bytes: Uint8Array): CriLogHeader | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  const first = text.indexOf(' ');
  const second = first < 0 ? -1 : text.indexOf(' ', first + 1);
  const third = second < 0 ? -1 : text.indexOf(' ', second + 1);
  if (third < 0) return null;
  const ts = parseRfc3339(text.slice(0, first));
  if (!ts) return null;
  const stream = text.slice(first + 1, second);
  if (stream !== 'stdout' && stream !== 'stderr') return null;
  // Tags are ':'-separated and only the first one is known (forward compatible, as upstream).
  const tag = text.slice(second + 1, third).split(':')[0];
  return { time: ts.time, timestampText: ts.fixed, stream, partial: tag === 'P' };
}

/** Parses one whole record (with or without its trailing '\n'); null when malformed. */
export function parseCriLine(line: Uint8Array): CriLogRecord | null {
  const headerLength = criHeaderLength(line);
  if (headerLength < 0) return null;
  const header = parseCriHeader(line.subarray(0, headerLength));
  if (!header) return null;
  let end = line.length;
  if (header.partial && end > headerLength && line[end - 1] === NEWLINE) end--;
  return { ...header, content: Buffer.from(line.subarray(headerLength, end)) };
}
