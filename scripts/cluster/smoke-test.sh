#!/usr/bin/env bash
# Checks a running test cluster end to end, without tskubelet (`scripts/cluster.sh check`):
#   1. API ready, namespaces listed, ServiceAccount default/default exists (controller-manager),
#      client and server report Kubernetes K8S_VERSION;
#   2. TLS bootstrap as a kubelet does it: an ECDSA P-256 key and a CSR for
#      CN=system:node:test-node, O=system:nodes, submitted with the BOOTSTRAP kubeconfig as a
#      CertificateSigningRequest (signer kubernetes.io/kube-apiserver-client-kubelet, usages
#      digital signature + client auth: upstream's set for a non-RSA key), auto-approved and
#      issued by the controller-manager;
#   3. with the issued certificate: `auth whoami` says system:node:test-node; creating Node
#      test-node is allowed; creating Node other-node is refused by NodeRestriction.
# Removes test-node and the CSR afterwards. Prints each step; exits non-zero on the first failure.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
say() { printf 'check: %s\n' "$*"; }
die() { printf 'check: FAILED: %s\n' "$*" >&2; exit 1; }

repo_dir="$(cd "$here/../.." && pwd)/.cluster"
kubectl=$repo_dir/bin/kubectl
admin=$repo_dir/admin.kubeconfig
bootstrap=$repo_dir/bootstrap.kubeconfig
if [ ! -x "$kubectl" ] || [ ! -f "$admin" ] || [ ! -f "$bootstrap" ]; then
  die "no .cluster/ in this clone; run: npm run cluster:up"
fi
CSR_ISSUE_TIMEOUT=30  # seconds; the approver and signer act within about a second
node=test-node
work=$(mktemp -d)
csr_name=
cleanup() {
  "$kubectl" --kubeconfig "$admin" delete node "$node" other-node --ignore-not-found >/dev/null 2>&1 || true
  if [ -n "$csr_name" ]; then "$kubectl" --kubeconfig "$admin" delete csr "$csr_name" --ignore-not-found >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
k() { "$kubectl" --kubeconfig "$admin" "$@"; }

# --- 1. the control plane ---------------------------------------------------------------------------
[ "$(k get --raw /readyz)" = ok ] || die "/readyz is not ok"
say "/readyz: ok"
say "namespaces: $(k get ns -o jsonpath='{.items[*].metadata.name}')"
k get sa default -n default -o name >/dev/null || die "ServiceAccount default/default missing (controller-manager)"
say "serviceaccount default/default exists"
client=$("$kubectl" version --client -o yaml | awk '$1 == "gitVersion:" { print $2; exit }')
server=$(k get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
if [ "$client" != "$K8S_VERSION" ] || [ "$server" != "$K8S_VERSION" ]; then
  die "kubectl version reports client '$client', server '$server'; want $K8S_VERSION"
fi
say "versions: client $client, server $server"

# --- 2. TLS bootstrap -----------------------------------------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$work/node.key" 2>/dev/null
openssl req -new -key "$work/node.key" -subj "/O=system:nodes/CN=system:node:$node" -out "$work/node.csr"
cat >"$work/csr.yaml" <<EOF
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  generateName: node-csr-
spec:
  signerName: kubernetes.io/kube-apiserver-client-kubelet
  usages: [digital signature, client auth]
  request: $(base64 -w0 "$work/node.csr")
EOF
csr_name=$("$kubectl" --kubeconfig "$bootstrap" create -f "$work/csr.yaml" -o jsonpath='{.metadata.name}') ||
  die "the bootstrap token could not create a CertificateSigningRequest"
say "bootstrap token created CSR $csr_name"
submitted=$(date +%s%N)
cert=
for ((i = 0; i < CSR_ISSUE_TIMEOUT * 5; i++)); do
  cert=$("$kubectl" --kubeconfig "$bootstrap" get csr "$csr_name" -o jsonpath='{.status.certificate}')
  [ -z "$cert" ] || break
  sleep 0.2
done
[ -n "$cert" ] || { k get csr "$csr_name" -o yaml >&2; die "CSR $csr_name not issued within ${CSR_ISSUE_TIMEOUT}s"; }
ms=$((($(date +%s%N) - submitted) / 1000000))
say "CSR $csr_name issued after ${ms} ms; $(k get csr "$csr_name" -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}: {.message}){end}')"
printf '%s' "$cert" | base64 -d >"$work/node.crt"
say "issued certificate: $(openssl x509 -in "$work/node.crt" -noout -subject -issuer -enddate | tr '\n' ' ')"

cat >"$work/node.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tskubelet
  cluster: {server: "$APISERVER_URL", certificate-authority-data: "$(base64 -w0 "$repo_dir/ca.crt")"}
users:
- name: $node
  user: {client-certificate-data: "$(base64 -w0 "$work/node.crt")", client-key-data: "$(base64 -w0 "$work/node.key")"}
contexts:
- name: $node
  context: {cluster: tskubelet, user: $node}
current-context: $node
EOF

# --- 3. the node identity -----------------------------------------------------------------------------
kn() { "$kubectl" --kubeconfig "$work/node.kubeconfig" "$@"; }
whoami=$(kn auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')
case $whoami in
  "system:node:$node "*system:nodes*) say "auth whoami: $whoami" ;;
  *) die "auth whoami with the issued certificate says '$whoami'" ;;
esac
node_yaml() { printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n' "$1"; }
node_yaml "$node" | kn create -f - -o name >/dev/null || die "node $node could not create its own Node object"
say "created Node $node with its own certificate"
if out=$(node_yaml other-node | kn create -f - 2>&1); then
  die "node $node could create Node other-node: NodeRestriction is not enforced"
fi
case $out in
  *"not allowed to modify node \"other-node\""*) say "Node other-node refused: $out" ;;
  *) die "creating other-node failed, but not by NodeRestriction: $out" ;;
esac
say "all checks passed"
