// Command-line flags with upstream kubelet names and pflag syntax: `--flag=value`,
// `--flag value`, booleans `--flag` / `--flag=false`, shorthands `-v 2`, `-v=2`, `-v2`, `-h`.
// Underscores in names are read as dashes (upstream WordSepNormalizeFunc). Types are checked
// here; ranges and cross-field rules once on the merged configuration (validate.ts).

import { invalidInput } from '../common/errors.ts';
import { SETTINGS, SETTING_KEYS, expectOf } from './schema.ts';
import type { Setting, ValueKind } from './schema.ts';
import { parseFeatureGatePairs } from './features.ts';
import { KUBELET_DEFAULTS } from './types.ts';
import type { ConfigValues, SettingKey } from './types.ts';
import {
  formatGoDuration,
  parseCommaList,
  parseDecimalInt,
  parseGoBool,
  parseGoDuration,
  parseKeyValuePairs,
  parseSeparatedPairs,
  parseTaintList,
} from './values.ts';
import { compareText } from '../common/compare.ts';

/** What the command line set. */
export interface ParsedFlags {
  /** Only the settings given on the command line. */
  readonly values: ConfigValues;
  /** --config: path of a KubeletConfiguration file, if given. */
  readonly configPath?: string;
  /** --help / -h was given. */
  readonly help: boolean;
}

// Flags that are not settings.
const CONFIG_FLAG = 'config';
const HELP_FLAG = 'help';
const SHORTHANDS: Readonly<Record<string, string>> = { v: 'v', h: HELP_FLAG };

const FLAG_TO_KEY: ReadonlyMap<string, SettingKey> = new Map(
  SETTING_KEYS.flatMap((k) => {
    const flag = SETTINGS[k].flag;
    return flag !== undefined ? [[flag, k] as const] : [];
  }),
);

/** One flag occurrence: its canonical name and its text value (undefined = none given). */
interface Occurrence {
  readonly name: string;
  readonly inline?: string;
}

/**
 * Parses argv (without node and script: process.argv.slice(2)). Throws invalidInput on an
 * unknown flag ("unknown flag: --foo"), a missing or mistyped value, or a positional argument.
 * Repeated flags: list flags append, --node-labels merges, others keep the last value.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values: Record<string, unknown> = {};
  let configPath: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      if (i + 1 < argv.length) throw invalidInput(`unknown command: ${argv[i + 1]}`);
      break;
    }
    const occ = splitFlag(arg);
    if (occ.name === HELP_FLAG) {
      help = occ.inline === undefined ? true : toBool(HELP_FLAG, occ.inline);
      continue;
    }
    const key = FLAG_TO_KEY.get(occ.name);
    if (key === undefined && occ.name !== CONFIG_FLAG) throw invalidInput(`unknown flag: --${occ.name}`);
    const isBool = key !== undefined && SETTINGS[key].kind === 'bool';
    const text = occ.inline ?? (isBool ? 'true' : argv[++i]);
    if (text === undefined) throw invalidInput(`flag needs an argument: --${occ.name}`);
    if (key === undefined) configPath = text;
    else values[key] = accumulate(SETTINGS[key].kind, values[key], fromFlag(SETTINGS[key], occ.name, text));
  }
  // The table-driven reader keeps each value's type in step with its setting's kind.
  return { values: values as ConfigValues, configPath, help };
}

/** `--name[=v]` or `-x[[=]v]` -> occurrence with the canonical long name. */
function splitFlag(arg: string): Occurrence {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('_', '-');
    if (name === '' || name.startsWith('-')) throw invalidInput(`bad flag syntax: ${arg}`);
    return eq < 0 ? { name } : { name, inline: arg.slice(eq + 1) };
  }
  if (arg.startsWith('-') && arg.length > 1) {
    const short = arg.slice(1, 2);
    const name = SHORTHANDS[short];
    if (name === undefined || !Object.hasOwn(SHORTHANDS, short)) {
      throw invalidInput(`unknown shorthand flag: '${short}' in ${arg}`);
    }
    const rest = arg.slice(2);
    if (rest === '') return { name };
    return { name, inline: rest.startsWith('=') ? rest.slice(1) : rest };
  }
  throw invalidInput(`unknown command: ${arg}`);
}

function toBool(name: string, text: string): boolean {
  const b = parseGoBool(text);
  if (b === undefined) throw invalidInput(`invalid argument "${text}" for flag --${name}: must be a boolean`);
  return b;
}

/** Converts a flag's text to the setting's kind, or throws naming the flag. */
function fromFlag(setting: Setting, name: string, text: string): unknown {
  const value = convert(setting, text);
  if (value === undefined) {
    throw invalidInput(`invalid argument ${JSON.stringify(text)} for flag --${name}: must be ${expectOf(setting)}`);
  }
  return value;
}

function convert(setting: Setting, text: string): unknown {
  switch (setting.kind) {
    case 'string':
      return text;
    case 'bool':
      return parseGoBool(text);
    case 'int':
      return parseDecimalInt(text);
    case 'duration':
      return parseGoDuration(text);
    case 'enum':
      return setting.values?.find((v) => v === text);
    case 'stringList':
      return parseCommaList(text);
    case 'labels':
      return parseKeyValuePairs(text);
    case 'taints':
      return parseTaintList(text);
    case 'map':
      return parseKeyValuePairs(text);
    case 'thresholdMap':
      return parseSeparatedPairs(text, '<');
    case 'boolMap':
      return parseFeatureGatePairs(text);
  }
}

/** Repeated list flags append and map flags merge (pflag slice/map semantics). */
function accumulate(kind: ValueKind, previous: unknown, next: unknown): unknown {
  if (Array.isArray(previous) && Array.isArray(next) && (kind === 'stringList' || kind === 'taints')) {
    return [...(previous as unknown[]), ...(next as unknown[])];
  }
  if ((kind === 'labels' || kind === 'map' || kind === 'thresholdMap' || kind === 'boolMap') && typeof previous === 'object' && typeof next === 'object') return { ...previous, ...next };
  return next;
}

// Type names shown in usage, as pflag prints them.
const TYPE_NAMES: Readonly<Record<ValueKind, string>> = {
  string: 'string',
  bool: '',
  int: 'int',
  duration: 'duration',
  enum: 'string',
  stringList: 'strings',
  labels: 'mapStringString',
  taints: 'taints',
  map: 'mapStringString',
  thresholdMap: 'mapStringString',
  boolMap: 'mapStringBool',
};

/** The --help text: every supported flag with a one-line description and its default. */
export function usage(): string {
  const rows: [string, string][] = [
    [`    --${CONFIG_FLAG} string`, 'Path of a KubeletConfiguration (kubelet.config.k8s.io/v1beta1) file; flags override it.'],
    ['-h, --help', 'Print this help and exit.'],
  ];
  for (const key of SETTING_KEYS) {
    const s = SETTINGS[key];
    if (s.flag === undefined) continue;
    const lead = s.flag === 'v' ? '-v, --v' : `    --${s.flag}`;
    const type = TYPE_NAMES[s.kind];
    rows.push([type ? `${lead} ${type}` : lead, s.help + defaultNote(key)]);
  }
  rows.sort((a, b) => compareText(a[0].trim().replace(/^-., /, ''), b[0].trim().replace(/^-., /, '')));
  const width = Math.max(...rows.map(([lead]) => lead.length)) + 3;
  const lines = rows.map(([lead, text]) => `  ${lead.padEnd(width)}${text}`);
  return ['Usage: tskubelet [flags]', '', 'tskubelet is a Kubernetes node agent (kubelet) written in TypeScript.', '', 'Flags:', ...lines, ''].join('\n');
}

function defaultNote(key: SettingKey): string {
  const v: unknown = KUBELET_DEFAULTS[key];
  const kind = SETTINGS[key].kind;
  if (v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0)) return '';
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) return '';
  if (kind === 'duration' && typeof v === 'number') return ` (default ${formatGoDuration(v)})`;
  if (Array.isArray(v)) return ` (default [${v.join(',')}])`;
  if (typeof v === 'object' && v !== null) {
    const sep = kind === 'thresholdMap' ? '<' : '=';
    return ` (default ${Object.entries(v).sort(([a], [b]) => compareText(a, b)).map(([k, x]) => `${k}${sep}${String(x)}`).join(',')})`;
  }
  return ` (default ${typeof v === 'string' ? JSON.stringify(v) : String(v)})`;
}
