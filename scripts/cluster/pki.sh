#!/usr/bin/env bash
# Creates the cluster's keys and certificates with openssl under PKI_DIR (scripts/cluster/lib.sh),
# the bootstrap token, and the kubeconfigs of the controller-manager, the scheduler and the admin
# under KUBECONFIG_DIR. Idempotent: keeps every file that is still valid (signed by the current
# CA, not expiring within RENEW_BEFORE_DAYS, same subject and SANs as asked) and replaces the rest.
# Prints one line per file it wrote (on stderr). Called by `scripts/cluster.sh up`.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

command -v openssl >/dev/null || die "openssl not found (npm run setup installs it)"
CA_DAYS=3650          # the CA outlives any test machine
LEAF_DAYS=825         # leaf certificates; renewed automatically when close to expiry
RENEW_BEFORE_DAYS=30  # replace a certificate that expires within this many days

mkdir -p "$PKI_DIR" "$KUBECONFIG_DIR"
chmod 0700 "$PKI_DIR" "$KUBECONFIG_DIR"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

renew_at=$(($(date +%s) + RENEW_BEFORE_DAYS * 86400))

# --- CAs -----------------------------------------------------------------------------------------
# ca NAME CN: NAME.crt/NAME.key, a self-signed CA; replaced when missing or about to expire.
ca() {
  local name=$1 cn=$2
  if [ -s "$PKI_DIR/$name.crt" ] && [ -s "$PKI_DIR/$name.key" ] &&
    openssl x509 -in "$PKI_DIR/$name.crt" -noout -checkend $((RENEW_BEFORE_DAYS * 86400)) >/dev/null 2>&1; then
    return 0
  fi
  cat >"$work/$name.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
CN = $cn
[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$CA_DAYS" -config "$work/$name.cnf" \
    -keyout "$work/$name.key" -out "$work/$name.crt" 2>"$work/err" || { cat "$work/err" >&2; die "creating the $name CA failed"; }
  mv "$work/$name.key" "$PKI_DIR/$name.key"
  mv "$work/$name.crt" "$PKI_DIR/$name.crt"
  chmod 0644 "$PKI_DIR/$name.crt"
  say "wrote $PKI_DIR/$name.crt (new CA: the certificates it signs are re-issued)"
}
# The cluster CA: clients (admin, components, kubelets via the CSR signer) and the API server.
ca ca tskubelet-cluster-ca
# The front-proxy CA: the API server's identity towards aggregated API servers, and the CA that
# the controller-manager and scheduler expect in extension-apiserver-authentication (kubeadm).
ca front-proxy-ca tskubelet-front-proxy-ca

# --- leaf certificates ----------------------------------------------------------------------------
# leaf CA NAME SUBJECT EKU [SAN]: NAME.crt/NAME.key signed by CA. SUBJECT like /O=g/CN=n; EKU
# serverAuth or clientAuth; SAN an openssl subjectAltName value. NAME.spec remembers what was asked.
leaf() {
  local ca=$1 name=$2 subject=$3 eku=$4 san=${5:-} spec
  spec="ca=$ca subject=$subject eku=$eku san=$san days=$LEAF_DAYS"
  if [ -s "$PKI_DIR/$name.key" ] && [ -s "$PKI_DIR/$name.crt" ] &&
    [ "$(cat "$PKI_DIR/$name.spec" 2>/dev/null)" = "$spec" ] &&
    openssl verify -attime "$renew_at" -CAfile "$PKI_DIR/$ca.crt" "$PKI_DIR/$name.crt" >/dev/null 2>&1; then
    return 0
  fi
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $eku"
    echo "authorityKeyIdentifier = keyid"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } >"$work/$name.ext"
  if ! { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/$name.key" &&
    openssl req -new -key "$work/$name.key" -subj "$subject" -out "$work/$name.csr" &&
    openssl x509 -req -in "$work/$name.csr" -CA "$PKI_DIR/$ca.crt" -CAkey "$PKI_DIR/$ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days "$LEAF_DAYS" -sha256 -extfile "$work/$name.ext" \
      -out "$work/$name.crt"; } 2>"$work/err"; then
    cat "$work/err" >&2
    die "creating the $name certificate failed"
  fi
  mv "$work/$name.key" "$PKI_DIR/$name.key"
  mv "$work/$name.crt" "$PKI_DIR/$name.crt"
  echo "$spec" >"$PKI_DIR/$name.spec"
  say "wrote $PKI_DIR/$name.crt ($subject)"
}

leaf ca apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
# Full access for people and tests.
leaf ca admin "/O=system:masters/CN=tskubelet-admin" clientAuth
# Users the default RBAC policy already grants what these components need.
leaf ca controller-manager "/CN=system:kube-controller-manager" clientAuth
leaf ca scheduler "/CN=system:kube-scheduler" clientAuth
# The API server's identity towards kubelets (logs, exec, port-forward, metrics). No group:
# cluster.sh binds this user to the upstream ClusterRole system:kubelet-api-admin.
leaf ca apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" clientAuth
# The API server's identity towards aggregated API servers (--proxy-client-cert-file).
leaf front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth

# --- service-account signing key --------------------------------------------------------------------
if [ ! -s "$PKI_DIR/sa.key" ] || [ ! -s "$PKI_DIR/sa.pub" ]; then
  if ! { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/sa.key" &&
    openssl pkey -in "$work/sa.key" -pubout -out "$work/sa.pub"; } 2>"$work/err"; then
    cat "$work/err" >&2
    die "creating the service-account key failed"
  fi
  mv "$work/sa.key" "$PKI_DIR/sa.key"
  mv "$work/sa.pub" "$PKI_DIR/sa.pub"
  say "wrote $PKI_DIR/sa.key (service-account signing key)"
fi

# --- bootstrap token (id.secret; id [a-z0-9]{6}, secret [a-z0-9]{16}) ---------------------------------
if ! grep -Eqx '[a-z0-9]{6}\.[a-z0-9]{16}' "$PKI_DIR/bootstrap-token" 2>/dev/null; then
  echo "$(openssl rand -hex 3).$(openssl rand -hex 8)" >"$PKI_DIR/bootstrap-token"
  say "wrote $PKI_DIR/bootstrap-token"
fi

# --- kubeconfigs -----------------------------------------------------------------------------------
b64() { base64 -w0 "$1"; }
# client_kubeconfig NAME: KUBECONFIG_DIR/NAME.kubeconfig for the NAME certificate (embedded).
client_kubeconfig() {
  local name=$1
  cat >"$work/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tskubelet
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(b64 "$PKI_DIR/$name.crt")
    client-key-data: $(b64 "$PKI_DIR/$name.key")
contexts:
- name: $name@tskubelet
  context:
    cluster: tskubelet
    user: $name
current-context: $name@tskubelet
EOF
  if install_file "$work/$name.kubeconfig" "$KUBECONFIG_DIR/$name.kubeconfig" 0600; then
    say "wrote $KUBECONFIG_DIR/$name.kubeconfig"
  fi
}
client_kubeconfig admin
client_kubeconfig controller-manager
client_kubeconfig scheduler

cat >"$work/bootstrap.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tskubelet
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
- name: tls-bootstrap-token-user
  user:
    token: $(cat "$PKI_DIR/bootstrap-token")
contexts:
- name: tls-bootstrap-token-user@tskubelet
  context:
    cluster: tskubelet
    user: tls-bootstrap-token-user
current-context: tls-bootstrap-token-user@tskubelet
EOF
if install_file "$work/bootstrap.kubeconfig" "$KUBECONFIG_DIR/bootstrap.kubeconfig" 0600; then
  say "wrote $KUBECONFIG_DIR/bootstrap.kubeconfig"
fi
