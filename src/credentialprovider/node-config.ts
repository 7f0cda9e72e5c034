// The node's own registry credentials: a docker config file on the node (upstream
// credentialprovider defaultDockerConfigProvider / ReadDockerConfigFile, wrapped in a
// CachingDockerConfigProvider of 5 minutes). Every pull may use them, after the pod's
// imagePullSecrets.
//
// Searched in this order, the first file that exists and parses wins:
//   config.json (format {"auths": {...}}) in <rootDir>, ~/.docker, /.docker
//   then the legacy .dockercfg (format {"<registry>": {...}}) in <rootDir>, ~, /
// Upstream also searches the working directory; tskubelet does not (its working directory is
// wherever it was started from). A file that cannot be read or parsed is skipped with a log line
// naming the file, never its content.
import { readFile as fsReadFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';
import type { Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { DockerKeyring, parseDockercfg, parseDockerConfigJson, type DockerConfig } from './keyring.ts';

/** How long the node's config is reused before the files are read again, ms (upstream: 5 min). */
export const NODE_CONFIG_CACHE_MS = 5 * 60_000;

export interface DockerConfigFile {
  path: string;
  format: 'config.json' | '.dockercfg';
}

/** The files searched, in order (see the top of this file). Pure. */
export function nodeConfigSearchPaths(rootDir: string, homeDir: string): DockerConfigFile[] {
  const jsonDirs = [rootDir, path.join(homeDir, '.docker'), '/.docker'];
  const legacyDirs = [rootDir, homeDir, '/'];
  return [
    ...jsonDirs.map((d) => ({ path: path.resolve(d, 'config.json'), format: 'config.json' as const })),
    ...legacyDirs.map((d) => ({ path: path.resolve(d, '.dockercfg'), format: '.dockercfg' as const })),
  ];
}

export interface NodeDockerConfigDeps {
  rootDir: string;
  /** Default: the user's home folder. */
  homeDir?: string;
  clock: Clock;
  logger: Logger;
  /** Default: node:fs readFile (tests pass a fake). */
  readFile?: (file: string) => Promise<string>;
}

/** The node's docker config as a keyring, read at most once per NODE_CONFIG_CACHE_MS. */
export class NodeDockerConfig {
  private readonly deps: NodeDockerConfigDeps;
  private cached: { keyring: DockerKeyring; readAt: number } | null = null;
  private reading: Promise<DockerKeyring> | null = null;

  constructor(deps: NodeDockerConfigDeps) {
    this.deps = deps;
  }

  /** The keyring of the first config file found (empty when none). Never rejects. */
  async keyring(): Promise<DockerKeyring> {
    const now = this.deps.clock.now();
    if (this.cached && now - this.cached.readAt < NODE_CONFIG_CACHE_MS) return this.cached.keyring;
    if (!this.reading) {
      this.reading = this.read().finally(() => {
        this.reading = null;
      });
    }
    return this.reading;
  }

  private async read(): Promise<DockerKeyring> {
    const { logger } = this.deps;
    const read = this.deps.readFile ?? ((f: string) => fsReadFile(f, 'utf8'));
    const keyring = new DockerKeyring();
    for (const file of nodeConfigSearchPaths(this.deps.rootDir, this.deps.homeDir ?? homedir())) {
      let text: string;
      try {
        text = await read(file.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') logger.info({ file: file.path, err: errorMessage(err) }, 'could not read a registry credentials file');
        continue;
      }
      let cfg: DockerConfig;
      try {
        cfg = file.format === 'config.json' ? parseDockerConfigJson(text, file.path) : parseDockercfg(text, file.path);
      } catch (err) {
        logger.info({ file: file.path, err: errorMessage(err) }, 'skipping an invalid registry credentials file');
        continue;
      }
      const skipped = keyring.add(cfg);
      if (skipped.length > 0) logger.info({ file: file.path, entries: skipped.length }, 'ignoring registry entries that cannot be parsed');
      logger.debug({ file: file.path, registries: cfg.size }, 'node registry credentials read');
      break;
    }
    this.cached = { keyring, readAt: this.deps.clock.now() };
    return keyring;
  }
}
