// Registry credentials for image pulls (upstream pkg/credentialprovider: config.go, keyring.go).
// Pure: docker config parsing, the keyring that matches an image's repository to the
// credentials of its registry, and the redaction of credentials from messages.
//
// A docker config maps a registry location to credentials:
//   config.json / kubernetes.io/dockerconfigjson: {"auths": {"<location>": {"auth": base64(user:pass), "username", "password", "email"}}}
//   .dockercfg / kubernetes.io/dockercfg:         {"<location>": {...}}
// As upstream, only username and password (or "auth", which wins over them) are used;
// "identitytoken" and "registrytoken" are ignored.
//
// Matching (upstream BasicDockerKeyring.Lookup): a location is "[scheme://]host[:port][/path]";
// it matches an image repository when the ports are equal, the host names have as many
// dot-separated parts and each part matches as a glob (`*.example.com` matches
// `registry.example.com`, not `example.com`), and the location's path is a prefix of the
// repository's path. More specific locations come first (reverse-sorted keys). When no location
// matches and the image is on Docker Hub, the credentials of "index.docker.io" are used.
//
// Never put a credential in an error message: errors name the config only.
import type { AuthConfig } from '../cri/types.ts';
import { invalidInput } from '../common/errors.ts';

/** The credentials of one registry location (upstream AuthConfig / DockerConfigEntry). */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Registry location -> credentials, in the config's order (upstream DockerConfig). */
export type DockerConfig = Map<string, RegistryCredentials>;

/** Docker Hub's registry host, under which its default credentials are kept (upstream defaultRegistryHost). */
export const DEFAULT_REGISTRY_HOST = 'index.docker.io';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON.parse whose error never quotes the input (V8's message includes a piece of it). */
function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidInput(`${what}: not valid JSON`);
  }
}

const BASE64_PADDED = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_RAW = /^[A-Za-z0-9+/]*$/;

/**
 * Decodes an "auth" field, base64(username:password), padded or not (upstream
 * decodeDockerConfigFieldAuth). Throws InvalidInput without quoting the field.
 */
export function decodeAuthField(field: string, what: string): RegistryCredentials {
  const s = field.replace(/[\r\n]/g, ''); // Go's decoder skips line breaks
  const padded = field.trim().endsWith('=');
  const ok = padded ? BASE64_PADDED.test(s) && s.length % 4 === 0 : BASE64_RAW.test(s) && s.length % 4 !== 1;
  if (!ok) throw invalidInput(`${what}: the auth field is not valid base64`);
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw invalidInput(`${what}: the auth field must be formatted as base64(username:password)`);
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function entryCredentials(value: unknown, what: string): RegistryCredentials {
  if (value === null) return { username: '', password: '' };
  if (!isObject(value)) throw invalidInput(`${what}: an entry is not an object`);
  const str = (key: string): string => {
    const v = value[key];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw invalidInput(`${what}: the ${key} field of an entry is not a string`);
    return v;
  };
  const creds = { username: str('username'), password: str('password') };
  str('email');
  const auth = str('auth');
  return auth === '' ? creds : decodeAuthField(auth, what);
}

function configFromMap(value: unknown, what: string): DockerConfig {
  const cfg: DockerConfig = new Map();
  if (value === null || value === undefined) return cfg;
  if (!isObject(value)) throw invalidInput(`${what}: the registry map is not an object`);
  for (const [location, entry] of Object.entries(value)) cfg.set(location, entryCredentials(entry, what));
  return cfg;
}

/** A config.json / .dockerconfigjson document: {"auths": {...}}. `what` names it in errors. */
export function parseDockerConfigJson(text: string, what: string): DockerConfig {
  const doc = parseJson(text, what);
  if (doc === null) return new Map();
  if (!isObject(doc)) throw invalidInput(`${what}: not a JSON object`);
  return configFromMap(doc['auths'], what);
}

/** A legacy .dockercfg document: {"<location>": {...}}. `what` names it in errors. */
export function parseDockercfg(text: string, what: string): DockerConfig {
  return configFromMap(parseJson(text, what), what);
}

interface SchemelessUrl {
  host: string; // host[:port], as written
  path: string; // '' or starting with '/'
}

/**
 * A location or image repository without its scheme, split as Go's url.Parse does
 * (userinfo dropped, query and fragment cut). null when the host has characters no URL host has.
 */
function parseLocation(text: string): SchemelessUrl | null {
  let rest = text.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, '');
  rest = rest.split(/[?#]/, 1)[0] ?? '';
  const slash = rest.indexOf('/');
  let host = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (/[\s\x00-\x1f\x7f"<>\\^`{|}]/.test(host)) return null;
  return { host, path };
}

/** Host parts split at dots, and the port (upstream SplitURL over net.SplitHostPort). */
function splitHost(host: string): { parts: string[]; port: string } {
  let name = host;
  let port = '';
  const bracket = /^\[([^\]]*)\]:(.*)$/.exec(host);
  if (bracket) {
    name = bracket[1]!;
    port = bracket[2]!;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && host.indexOf(':') === colon) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
  }
  return { parts: name.split('.'), port };
}

/**
 * A glob of one host part as a RegExp (Go's filepath.Match: `*`, `?` and classes `[a-z]`,
 * `[^0-9]`), or null when malformed. Escapes with a backslash, which no host has, count as malformed.
 */
function globRegExp(glob: string): RegExp | null {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      const cls = end < 0 ? '' : glob.slice(i + 1, end);
      if (!/^\^?[A-Za-z0-9_-]+$/.test(cls)) return null;
      re += `[${cls}]`;
      i = end;
    } else if (ch === '\\' || ch === ']') return null;
    else re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`);
  } catch {
    return null;
  }
}

/**
 * Whether the credentials of location `glob` apply to `target` (both without scheme): equal
 * ports, as many host parts, each matching as a glob, and the glob's path a prefix of the
 * target's (upstream URLsMatch). Pure.
 */
export function urlsMatch(glob: string, target: string): boolean {
  const g = parseLocation(glob);
  const t = parseLocation(target);
  if (!g || !t) return false;
  const gh = splitHost(g.host);
  const th = splitHost(t.host);
  if (gh.port !== th.port || gh.parts.length !== th.parts.length) return false;
  if (!t.path.startsWith(g.path)) return false;
  return gh.parts.every((part, i) => globRegExp(part)?.test(th.parts[i]!) ?? false);
}

/**
 * Whether an image is pulled from Docker Hub (upstream isDefaultRegistryMatch): no registry
 * host in its name (no dot or colon in the first part), or docker.io / index.docker.io.
 */
export function isDefaultRegistryMatch(image: string): boolean {
  const slash = image.indexOf('/');
  const first = slash < 0 ? image : image.slice(0, slash);
  if (first === '') return false;
  if (slash < 0) return true;
  if (first === 'docker.io' || first === DEFAULT_REGISTRY_HOST) return true;
  return !/[.:]/.test(first);
}

/** The keyring key of a config location (upstream BasicDockerKeyring.Add); null when it cannot be parsed. */
export function locationKey(location: string): string | null {
  const withScheme = /^https?:\/\//.test(location) ? location : `https://${location}`;
  const parsed = parseLocation(withScheme);
  if (!parsed) return null;
  let path = parsed.path;
  // /v1/ and /v2/ stand for the registry itself, as the docker client has it.
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3);
  return path !== '' && path !== '/' ? parsed.host + path : parsed.host;
}

/** Credentials by registry location, looked up by image repository (upstream BasicDockerKeyring). */
export class DockerKeyring {
  private readonly creds = new Map<string, RegistryCredentials[]>();
  private index: string[] = [];

  /** Adds a config's entries; unparsable locations are skipped (returned, for a log line). */
  add(cfg: DockerConfig): string[] {
    const skipped: string[] = [];
    for (const [location, creds] of cfg) {
      const key = locationKey(location);
      if (key === null) {
        skipped.push(location);
        continue;
      }
      const list = this.creds.get(key) ?? [];
      list.push(creds);
      this.creds.set(key, list);
    }
    // Reverse-sorted: longer, more specific locations ("quay.io/coreos") before their prefixes ("quay.io").
    this.index = [...this.creds.keys()].sort().reverse();
    return skipped;
  }

  /** Every credential that applies to the repository (e.g. "127.0.0.1:5000/busybox"), most specific first; [] when none. */
  lookup(repository: string): RegistryCredentials[] {
    const found: RegistryCredentials[] = [];
    for (const key of this.index) if (urlsMatch(key, repository)) found.push(...this.creds.get(key)!);
    if (found.length > 0) return found;
    if (isDefaultRegistryMatch(repository)) return [...(this.creds.get(DEFAULT_REGISTRY_HOST) ?? [])];
    return [];
  }

  get size(): number {
    return this.creds.size;
  }
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/**
 * The repository an image is pulled from, normalized as the docker reference library does
 * (upstream parsers.ParseImageName): tag and digest dropped, "docker.io" for names without a
 * registry host, "library/" for official images. "busybox:1.36" -> "docker.io/library/busybox".
 * Throws InvalidInput "couldn't parse image name ..." for a malformed reference.
 */
export function imageRepository(image: string): string {
  const bad = (): Error => invalidInput(`couldn't parse image name ${JSON.stringify(image)}: invalid reference format`);
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) {
    if (!/^[\w][\w.-]{0,127}$/.test(name.slice(colon + 1))) throw bad();
    name = name.slice(0, colon);
  }
  const slash = name.indexOf('/');
  let domain = 'docker.io';
  let remainder = name;
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      remainder = name.slice(slash + 1);
    }
  }
  if (domain === DEFAULT_REGISTRY_HOST) domain = 'docker.io';
  if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  if (!DOMAIN.test(domain) || remainder === '' || !remainder.split('/').every((c) => PATH_COMPONENT.test(c))) throw bad();
  return `${domain}/${remainder}`;
}

/** The CRI AuthConfig of one credential (upstream: username and password only). */
export function criAuth(c: RegistryCredentials): AuthConfig {
  return { username: c.username, password: c.password };
}

/**
 * Secret values shorter than this are not redacted: they cannot be told apart from ordinary
 * words of the message (and a real password is longer). Characters.
 */
const MIN_REDACTED_LENGTH = 4;

/**
 * `text` with every password, token and auth string of `auths` (and base64(username:password))
 * replaced by "<redacted>": for runtime errors that go to events, statuses and logs. Pure.
 */
export function redactCredentials(text: string, auths: readonly AuthConfig[]): string {
  const secrets = new Set<string>();
  for (const a of auths) {
    for (const v of [a.password, a.auth, a.identity_token, a.registry_token]) if (v) secrets.add(v);
    if (a.password) secrets.add(Buffer.from(`${a.username ?? ''}:${a.password}`).toString('base64'));
  }
  let out = text;
  for (const s of [...secrets].sort((x, y) => y.length - x.length)) {
    if (s.length >= MIN_REDACTED_LENGTH) out = out.split(s).join('<redacted>');
  }
  return out;
}
