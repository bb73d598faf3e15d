#!/usr/bin/env bash
# Install the system packages the project needs when they are missing (Debian/Ubuntu, as root or with sudo);
# otherwise say exactly what to install. mysqlclient needs the MariaDB/MySQL headers; the embedded default
# wants nats-server (optional: without it the consumer does not run).
set -u
missing=()
pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null || missing+=(libmariadb-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v nats-server >/dev/null || missing+=(nats-server)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo -n"
if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || $sudo true 2>/dev/null; }; then
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    && exit 0
fi
echo "missing system packages: ${missing[*]}"
echo "install them with: sudo apt-get install ${missing[*]}   (Debian/Ubuntu)"
# Without the headers mysqlclient cannot build: that is fatal. nats-server alone is optional.
for pkg in "${missing[@]}"; do [ "$pkg" != nats-server ] && exit 1; done
echo "carrying on without nats-server: the consumer will not run until it is installed"
exit 0
