// The query of `GET /containerLogs/{namespace}/{pod}/{container}` (what `kubectl logs` sends through
// the API server): upstream's v1.PodLogOptions as the kubelet server decodes it from URL parameters
// and checks it with ValidatePodLogOptions, then turns it into the reader's options (NewLogOptions).
//
// Index:
//   type LogStreamSelector, interface LogOptions, DEFAULT_LOG_OPTIONS
//   parseLogOptions(query, nowMs): LogOptions     (throws InvalidInput)
import { invalidInput } from '../common/errors.ts';
import { logTimeFromMs, parseRfc3339, type LogTime } from './cri-format.ts';

/** PodLogOptions.stream (upstream 1.32+, PodLogsQuerySplitStreams): which stream to return. */
export type LogStreamSelector = 'All' | 'Stdout' | 'Stderr';

export interface LogOptions {
  /** Keep streaming new lines until the client goes away or the container stops. */
  follow: boolean;
  /** The previous (terminated) instance of the container: the caller picks the log path with it. */
  previous: boolean;
  /** Prefix every line with its RFC3339Nano timestamp and a space. */
  timestamps: boolean;
  /** Only the last N complete lines; null for all. */
  tailLines: number | null;
  /** Stop after this many bytes of output; null for no limit. */
  limitBytes: number | null;
  /** Skip lines stamped before this instant (from sinceSeconds or sinceTime); null for all. */
  since: LogTime | null;
  stream: LogStreamSelector;
}

export const DEFAULT_LOG_OPTIONS: Readonly<LogOptions> = Object.freeze({
  follow: false,
  previous: false,
  timestamps: false,
  tailLines: null,
  limitBytes: null,
  since: null,
  stream: 'All',
});

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Go's strconv.ParseBool, plus '' (a bare `?follow`) meaning true as in upstream's decoding. */
function parseBool(name: string, value: string): boolean {
  switch (value) {
    case '':
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      throw invalidInput(`invalid value for ${name}: ${JSON.stringify(value)} is not a boolean`);
  }
}

/** Go's strconv.ParseInt(s, 10, 64); an empty value is 0, as upstream's query decoding has it. */
function parseInt64(name: string, value: string): number {
  if (value === '') return 0;
  if (!/^[+-]?[0-9]+$/.test(value)) throw invalidInput(`invalid value for ${name}: ${JSON.stringify(value)} is not an integer`);
  const n = BigInt(value);
  if (n > INT64_MAX || n < INT64_MIN) throw invalidInput(`invalid value for ${name}: ${value} is out of range`);
  return Number(n);
}

/**
 * Decodes and validates the log query. `nowMs` anchors sinceSeconds. Unknown parameters are ignored;
 * when a parameter repeats, the first value counts. The old `tail` parameter is still read as
 * tailLines (`tail=all`: every line), as upstream's server does.
 * Throws InvalidInput for a value that does not parse or fails validation (upstream answers 400 for
 * the first and 422 for the second; both are the client's error).
 */
export function parseLogOptions(query: URLSearchParams, nowMs: number): LogOptions {
  const opts: LogOptions = { ...DEFAULT_LOG_OPTIONS };
  const bool = (name: 'follow' | 'previous' | 'timestamps'): void => {
    const value = query.get(name);
    if (value !== null) opts[name] = parseBool(name, value);
  };
  bool('follow');
  bool('previous');
  bool('timestamps');

  let tailText = query.get('tailLines');
  const legacyTail = query.get('tail');
  if (legacyTail) tailText = legacyTail === 'all' ? null : legacyTail;
  if (tailText !== null) {
    const tail = parseInt64('tailLines', tailText);
    if (tail < 0) throw invalidInput(`invalid value for tailLines: ${tail}: must be greater than or equal to 0`);
    opts.tailLines = tail;
  }

  const limitText = query.get('limitBytes');
  if (limitText !== null) {
    const limit = parseInt64('limitBytes', limitText);
    if (limit < 1) throw invalidInput(`invalid value for limitBytes: ${limit}: must be greater than 0`);
    opts.limitBytes = limit;
  }

  const sinceSecondsText = query.get('sinceSeconds');
  const sinceTimeText = query.get('sinceTime');
  let sinceTime: LogTime | null = null;
  if (sinceTimeText !== null && sinceTimeText !== '' && sinceTimeText !== 'null') {
    // metav1.Time's query form; '' and 'null' are the zero time (no filter), as upstream.
    const parsed = parseRfc3339(sinceTimeText);
    if (!parsed) throw invalidInput(`invalid value for sinceTime: ${JSON.stringify(sinceTimeText)} is not an RFC 3339 time`);
    sinceTime = parsed.time;
  }
  if (sinceSecondsText !== null) {
    const sinceSeconds = parseInt64('sinceSeconds', sinceSecondsText);
    if (sinceTimeText !== null) throw invalidInput('at most one of `sinceTime` or `sinceSeconds` may be specified');
    if (sinceSeconds < 1) throw invalidInput(`invalid value for sinceSeconds: ${sinceSeconds}: must be greater than 0`);
    opts.since = logTimeFromMs(nowMs - sinceSeconds * 1000);
  } else {
    opts.since = sinceTime;
  }

  const stream = query.get('stream');
  if (stream !== null) {
    if (stream !== 'All' && stream !== 'Stdout' && stream !== 'Stderr') {
      throw invalidInput(`invalid value for stream: ${JSON.stringify(stream)}: supported values are "All", "Stdout", "Stderr"`);
    }
    if (stream !== 'All' && opts.tailLines !== null) throw invalidInput('`tailLines` and specific `stream` are mutually exclusive for now');
    opts.stream = stream;
  }
  return opts;
}
