#!/usr/bin/env bash
# Debian packages the tests use: etcd-server (the benchmark anchor and the client's
# second target); openssh-server and -client, nftables, iproute2 and python3-pip for the
# lab hosts (network namespaces with their own sshd, provisioned by Ansible).  Installed only when running as root and missing; otherwise the
# tests that need them say why they skip.
set -euo pipefail
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
# Lab hosts install Skiff with the system Python's pip (python3 -m pip --python VENV).
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "note: not root, not installing ${need[*]}; tests that need them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
