#!/usr/bin/env bash
# Debian packages the tests use: etcd-server (the benchmark anchor and the client's
# second target); openssh-server, nftables and iproute2 for the lab hosts (network
# namespaces with their own sshd).  Installed only when running as root and missing; otherwise the
# tests that need them say why they skip.
set -euo pipefail
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "note: not root, not installing ${need[*]}; tests that need them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
