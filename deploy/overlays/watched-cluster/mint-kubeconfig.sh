#!/bin/sh
# Writes the kubeconfig netadvisor's hub uses to read this cluster: the API server, its CA and
# the netadvisor ServiceAccount's token (from the Secret netadvisor-token). Token-based on
# purpose: exec credential plugins (aws, gcloud, kubelogin) are not in netadvisor's image.
#
# Usage: mint-kubeconfig.sh NAME OUTPUT [SERVER]
#   NAME    the cluster's name in netadvisor's configuration (e.g. prod-eu)
#   OUTPUT  the file to write (created readable by you only: it holds a token)
#   SERVER  the API server URL as the hub reaches it (default: the current context's server)
#
# kubectl talks to the watched cluster: set KUBECONFIG or the current context before running.
set -eu

name=${1:?usage: mint-kubeconfig.sh NAME OUTPUT [SERVER]}
output=${2:?usage: mint-kubeconfig.sh NAME OUTPUT [SERVER]}
server=${3:-$(kubectl config view --minify -o 'jsonpath={.clusters[0].cluster.server}')}
namespace=netadvisor
secret=netadvisor-token

token=$(kubectl -n "$namespace" get secret "$secret" -o 'jsonpath={.data.token}' | base64 -d)
ca=$(kubectl -n "$namespace" get secret "$secret" -o 'jsonpath={.data.ca\.crt}')
if [ -z "$token" ] || [ -z "$ca" ]; then
    echo "mint-kubeconfig.sh: $namespace/$secret has no token or CA yet;" \
        "apply deploy/overlays/watched-cluster first" >&2
    exit 1
fi

umask 077
cat > "$output" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: $name
    cluster:
      server: $server
      certificate-authority-data: $ca
users:
  - name: netadvisor@$name
    user:
      token: $token
contexts:
  - name: $name
    context:
      cluster: $name
      user: netadvisor@$name
current-context: $name
KUBECONFIG
echo "wrote $output for cluster $name ($server)" >&2
