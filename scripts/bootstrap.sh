#!/usr/bin/env bash
# Creates .venv with edgeferry and its development tools, and installs the system packages the
# demo and the tests use (mosquitto; nats-server for the JetStream tests) when missing and root.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: Python >= 3.11 is required (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    return 1
  fi
  echo "bootstrap: installing Debian packages: $*" >&2
  (apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "$@" >/dev/null; })
}

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto || { echo "bootstrap: mosquitto is missing; install it (apt-get install mosquitto, brew install mosquitto)" >&2; exit 1; }
fi
if [ ! -f /usr/include/mosquitto_broker.h ] || [ ! -f /usr/include/mosquitto.h ] || [ ! -f /usr/include/openssl/sha.h ]; then
  # the rig's broker plugin (cloud/rig/plugin) is compiled against these on first use
  apt_install gcc libc6-dev mosquitto-dev libmosquitto-dev libssl-dev ||
    echo "bootstrap: mosquitto-dev, libmosquitto-dev, libssl-dev or gcc missing; the rig cannot build its broker plugin" >&2
fi
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  apt_install nats-server || echo "bootstrap: nats-server not installed; the JetStream tests will be skipped" >&2
fi

# Greengrass Nucleus Lite, built by the tests from ../shared/vendor/greengrass-lite (tests/fixtures/lite_build.py),
# and socat, which bridges its hard-coded MQTT port to the test broker.
LITE_PACKAGES="build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev uuid-dev libzip-dev libsqlite3-dev
  libyaml-dev libsystemd-dev libevent-dev liburiparser-dev socat"
if [ -d ../shared/vendor/greengrass-lite ] && ! dpkg -s $LITE_PACKAGES >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  apt_install $LITE_PACKAGES || echo "bootstrap: Nucleus Lite build dependencies missing: $LITE_PACKAGES" >&2
fi

stamp=.venv/.edgeferry-installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing edgeferry and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
