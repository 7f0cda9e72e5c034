// Start-up configuration: defaults <- --config file <- flags, then one validation.
// The only I/O is reading the config file (injectable for tests).

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { errorMessage, invalidInput } from '../common/errors.ts';
import { parseKubeletConfigFile } from './file.ts';
import type { FileConfig } from './file.ts';
import { parseFlags, usage } from './flags.ts';
import { KUBELET_DEFAULTS } from './types.ts';
import type { ConfigValues, KubeletConfig } from './types.ts';
import { validateConfig } from './validate.ts';
import { normalizeEndpoint } from './values.ts';

/** The host facts loadConfig needs; defaults are the real ones. */
export interface LoadEnv {
  /** The machine's host name (default os.hostname). */
  readonly hostname?: () => string;
  /** Reads a file as UTF-8 (default fs.readFile). */
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * Builds the kubelet configuration from argv (process.argv.slice(2)): flags, then the
 * --config file if given, merged over defaults, resolved and validated. Returns { help } when
 * --help was given. Rejects with invalidInput naming the flag, field or file on any problem
 * (unknown flag, unreadable or invalid file, invalid value): the kubelet must not start.
 */
export async function loadConfig(
  argv: readonly string[],
  env: LoadEnv = {},
): Promise<{ config: KubeletConfig } | { help: string }> {
  const flags = parseFlags(argv);
  if (flags.help) return { help: usage() };
  const file = !flags.configPath ? undefined : await loadFile(flags.configPath, env.readFile ?? readUtf8);
  const config = resolveConfig(file, flags.values, (env.hostname ?? hostname)());
  validateConfig(config);
  return { config };
}

const readUtf8 = (path: string): Promise<string> => readFile(path, 'utf8');

async function loadFile(path: string, read: (path: string) => Promise<string>): Promise<FileConfig> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    throw invalidInput(`failed to read kubelet config file "${path}": ${errorMessage(err)}`, err);
  }
  try {
    return parseKubeletConfigFile(text, path);
  } catch (err) {
    throw invalidInput(`failed to load kubelet config file "${path}": ${errorMessage(err)}`, err);
  }
}

/**
 * Pure merge: defaults <- file <- flags (feature gates merged gate by gate), then derived values: nodeName from
 * --hostname-override or `hostName` (trimmed, lower-cased, as upstream GetHostname), an empty
 * cgroupRoot with cgroupsPerQOS as '/', bare socket paths as unix:// URLs. Does not validate.
 */
export function resolveConfig(file: FileConfig | undefined, flags: ConfigValues, hostName: string): KubeletConfig {
  const merged = { ...KUBELET_DEFAULTS, ...file?.values, ...flags };
  const override = merged.hostnameOverride.trim();
  return {
    ...merged,
    nodeName: (override !== '' ? override : hostName).trim().toLowerCase(),
    // Upstream kubeletConfigFlagPrecedence: the file's feature gates stay unless a flag sets the same gate.
    featureGates: { ...file?.values.featureGates, ...flags.featureGates },
    cgroupRoot: merged.cgroupRoot === '' && merged.cgroupsPerQOS ? '/' : merged.cgroupRoot,
    containerRuntimeEndpoint: normalizeEndpoint(merged.containerRuntimeEndpoint),
    imageServiceEndpoint: normalizeEndpoint(merged.imageServiceEndpoint),
    passThrough: file?.passThrough ?? {},
  };
}
