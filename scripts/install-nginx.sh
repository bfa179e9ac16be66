#!/usr/bin/env bash
# Install Debian's nginx for `refundbot cluster` and its tests (never a downloaded nginx).
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "nginx is missing: run 'sudo apt-get install nginx-light' (the cluster tests skip without it)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq nginx-light >/dev/null
