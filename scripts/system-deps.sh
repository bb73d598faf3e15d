#!/usr/bin/env bash
# Install the system packages the project needs when they are missing (Debian/Ubuntu, as root or with sudo);
# otherwise say exactly what to install.
#   libmariadb-dev, pkg-config: mysqlclient builds against them (required).
#   nats-server: NATS JetStream for the consumer (`make run` runs without it, the consumer tests need it).
#   redis-server: the readiness and worker-crash tests run a real Redis broker.
#   chromium: the browser test drives Debian's headless Chromium.
# Without the optional ones `make run` still works, but `make test` skips the tests that need them: install them all
# so a fresh machine runs the whole suite.
set -u
missing=()
pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null || missing+=(libmariadb-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
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
# Without the headers mysqlclient cannot build: that is fatal. The services and the browser are optional.
for pkg in "${missing[@]}"; do
  case "$pkg" in nats-server|redis-server|chromium) ;; *) exit 1 ;; esac
done
echo "carrying on: the tests that need ${missing[*]} will be skipped until they are installed"
exit 0
