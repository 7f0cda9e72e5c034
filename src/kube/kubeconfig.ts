// A kubeconfig reader: the current context's cluster and user, as client-go's clientcmd loads
// them for the fields a kubelet uses (server, CA, client certificate and key, bearer token,
// basic auth, insecure-skip-tls-verify, tls-server-name). Relative file paths are taken from the
// kubeconfig's folder, as clientcmd does.
//
// Why not @kubernetes/client-node's KubeConfig: importing it at run time loads the whole
// generated API client (~90 MiB more RSS for a process that only reads this file); its TYPES
// stay in use elsewhere (erased). Exec and auth-provider plugins are refused (Unsupported): the
// kubelet's own kubeconfig holds a certificate (TLS bootstrap) or a token.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';
import { errorMessage, invalidInput, unsupported } from '../common/errors.ts';

export interface KubeconfigCluster {
  /** The server URL, without a trailing slash. */
  readonly server: string;
  /** Absolute path of certificate-authority, when given. */
  readonly caFile?: string;
  /** certificate-authority-data (base64), when given. */
  readonly caData?: string;
  readonly insecureSkipTLSVerify: boolean;
  readonly tlsServerName?: string;
}

export interface KubeconfigUser {
  readonly certFile?: string;
  readonly certData?: string;
  readonly keyFile?: string;
  readonly keyData?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly username?: string;
  readonly password?: string;
  /** `as`: impersonated user name. */
  readonly impersonate?: string;
}

export interface Kubeconfig {
  readonly cluster: KubeconfigCluster;
  /** Empty when the context names no user. */
  readonly user: KubeconfigUser;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, key: string): string | undefined => (typeof o[key] === 'string' && o[key] !== '' ? (o[key] as string) : undefined);

function named(list: unknown, kind: string, name: string, what: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const e of list as unknown[]) {
    if (isObj(e) && e['name'] === name) {
      const inner = e[kind];
      if (!isObj(inner)) throw invalidInput(`${what}: ${kind} ${name} has no ${kind} section`);
      return inner;
    }
  }
  return undefined;
}

const abs = (dir: string, file: string | undefined): string | undefined => (file === undefined || path.isAbsolute(file) ? file : path.join(dir, file));

/**
 * Parses kubeconfig text (pure). `dir` is the folder relative paths are resolved from; `what`
 * names the source in errors. Throws InvalidInput when the text is not a kubeconfig or its
 * current context, cluster or server is missing; Unsupported for exec/auth-provider users.
 */
export function parseKubeconfig(text: string, dir: string, what: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw invalidInput(`${what}: ${errorMessage(err)}`, err);
  }
  if (!isObj(doc)) throw invalidInput(`${what}: not a kubeconfig`);
  const contextName = str(doc, 'current-context');
  if (!contextName) throw invalidInput(`${what}: no current-context`);
  const context = named(doc['contexts'], 'context', contextName, what);
  if (!context) throw invalidInput(`${what}: context ${contextName} not found`);
  const clusterName = str(context, 'cluster');
  const c = clusterName ? named(doc['clusters'], 'cluster', clusterName, what) : undefined;
  if (!c) throw invalidInput(`${what}: cluster ${clusterName ?? '""'} of context ${contextName} not found`);
  const server = str(c, 'server');
  if (!server) throw invalidInput(`${what}: names no server`);
  const cluster: KubeconfigCluster = {
    server: server.replace(/\/$/, ''),
    caFile: abs(dir, str(c, 'certificate-authority')),
    caData: str(c, 'certificate-authority-data'),
    insecureSkipTLSVerify: c['insecure-skip-tls-verify'] === true,
    tlsServerName: str(c, 'tls-server-name'),
  };
  const userName = str(context, 'user');
  const u = userName ? (named(doc['users'], 'user', userName, what) ?? {}) : {};
  if (u['exec'] !== undefined && u['exec'] !== null) throw unsupported(`${what}: exec credential plugins are not supported`);
  if (u['auth-provider'] !== undefined && u['auth-provider'] !== null) throw unsupported(`${what}: auth-provider plugins are not supported`);
  const user: KubeconfigUser = {
    certFile: abs(dir, str(u, 'client-certificate')),
    certData: str(u, 'client-certificate-data'),
    keyFile: abs(dir, str(u, 'client-key')),
    keyData: str(u, 'client-key-data'),
    token: str(u, 'token'),
    tokenFile: abs(dir, str(u, 'tokenFile') ?? str(u, 'token-file')),
    username: str(u, 'username'),
    password: str(u, 'password'),
    impersonate: str(u, 'as'),
  };
  return { cluster, user };
}

/** Reads and parses a kubeconfig file. Rejects as parseKubeconfig; InvalidInput when it cannot be read. */
export async function readKubeconfig(file: string): Promise<Kubeconfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw invalidInput(`cannot read kubeconfig ${file}: ${errorMessage(err)}`, err);
  }
  return parseKubeconfig(text, path.dirname(file), `kubeconfig ${file}`);
}

/** A PEM from a file (read now) or from base64 data; undefined when neither is given. */
async function fileOrData(file: string | undefined, data: string | undefined): Promise<Buffer | undefined> {
  if (file) return readFile(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

/**
 * The TLS and auth options of HTTPS requests to the kubeconfig's server: ca, cert, key (read
 * now from their files), rejectUnauthorized, servername, and an Authorization (bearer token,
 * file data trimmed) or basic `auth`. Rejects with the file system error when a named file
 * cannot be read.
 */
export async function httpsOptions(kc: Kubeconfig): Promise<RequestOptions> {
  const { cluster, user } = kc;
  const opts: RequestOptions = {};
  if (cluster.insecureSkipTLSVerify) opts.rejectUnauthorized = false;
  if (cluster.tlsServerName) opts.servername = cluster.tlsServerName;
  const ca = await fileOrData(cluster.caFile, cluster.caData);
  if (ca) opts.ca = ca;
  const cert = await fileOrData(user.certFile, user.certData);
  if (cert) opts.cert = cert;
  const key = await fileOrData(user.keyFile, user.keyData);
  if (key) opts.key = key;
  const headers: Record<string, string> = {};
  const token = user.token ?? (user.tokenFile ? (await readFile(user.tokenFile, 'utf8')).trim() : undefined);
  if (token) headers['Authorization'] = `Bearer ${token}`;
  else if (user.username) opts.auth = `${user.username}:${user.password ?? ''}`;
  if (user.impersonate) headers['Impersonate-User'] = user.impersonate;
  if (Object.keys(headers).length > 0) opts.headers = headers;
  return opts;
}
