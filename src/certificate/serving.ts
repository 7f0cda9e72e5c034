// The kubelet's serving certificate, as upstream picks it: --tls-cert-file/--tls-private-key-file
// when given; otherwise <certDir>/kubelet.crt and kubelet.key, created self-signed for
// `<nodeName>@<unix seconds>` (the node name, localhost and the node's IPs as subject alternative
// names) when missing, unreadable or expired. (serverTLSBootstrap: src/server/start.ts requests the
// certificate from the API server instead.)
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isIP } from 'node:net';
import { errorMessage, invalidInput } from '../common/errors.ts';
import { generateEcKey, validity } from './pem.ts';
import { makeSelfSignedCertificate, SELF_SIGNED_VALIDITY_MS } from './self-signed.ts';
import { ensureCertDir, KEY_FILE_MODE, parsePair, writeFileAtomic } from './store.ts';

export interface ServingCertificate {
  cert: string;
  key: string;
  /** Where it came from, for the log. */
  source: string;
}

export interface ServingCertificateOptions {
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  certDir: string;
  nodeName: string;
  /** The node's addresses (IPs or names) to put in a self-signed certificate. */
  addresses: readonly string[];
  nowMs: number;
}

/** Loads (or creates) the serving pair. Throws InvalidInput when configured files are unusable. */
export async function loadServingCertificate(o: ServingCertificateOptions): Promise<ServingCertificate> {
  if (o.tlsCertFile || o.tlsPrivateKeyFile) {
    if (!o.tlsCertFile || !o.tlsPrivateKeyFile) throw invalidInput('tlsCertFile and tlsPrivateKeyFile must be given together');
    let cert: string, key: string;
    try {
      [cert, key] = await Promise.all([readFile(o.tlsCertFile, 'utf8'), readFile(o.tlsPrivateKeyFile, 'utf8')]);
      parsePair(cert, key, o.tlsCertFile);
    } catch (err) {
      throw invalidInput(`serving certificate ${o.tlsCertFile} / key ${o.tlsPrivateKeyFile}: ${errorMessage(err)}`);
    }
    return { cert, key, source: o.tlsCertFile };
  }
  const certFile = path.join(o.certDir, 'kubelet.crt');
  const keyFile = path.join(o.certDir, 'kubelet.key');
  try {
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    const pair = parsePair(cert, key, certFile);
    if (validity(pair.certificates[0]!).notAfter > o.nowMs) return { cert, key, source: certFile };
  } catch {
    // missing or unusable: made anew below
  }
  const { pem: key, key: keyObject } = generateEcKey();
  const names = [...new Set([o.nodeName, 'localhost', ...o.addresses])];
  const cert = makeSelfSignedCertificate({
    commonName: `${o.nodeName}@${Math.floor(o.nowMs / 1000)}`,
    dnsNames: names.filter((n) => isIP(n) === 0),
    ipAddresses: [...new Set([...names.filter((n) => isIP(n) !== 0), '127.0.0.1'])],
    notBeforeMs: o.nowMs - 60_000,
    notAfterMs: o.nowMs + SELF_SIGNED_VALIDITY_MS,
  }, keyObject);
  await ensureCertDir(o.certDir);
  await writeFileAtomic(keyFile, key, KEY_FILE_MODE);
  await writeFileAtomic(certFile, cert, 0o644);
  return { cert, key, source: `${certFile} (self-signed, new)` };
}
