#!/bin/sh
# Makes sure promtool and prometheus (Debian's `prometheus` package) are installed: the monitoring
# tests (test/monitoring/) run `promtool check/test rules` and start a real Prometheus, and never
# skip for want of them. Installs the package with apt-get when promtool is missing; fails loudly
# when it cannot. Runs as npm's "pretest".
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi

echo "ensure-prometheus: promtool/prometheus missing; installing Debian's prometheus package" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "ensure-prometheus: not root and no sudo: install the 'prometheus' package (promtool, prometheus) yourself" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-prometheus: no apt-get here: install Prometheus 2.x so that promtool and prometheus are on PATH" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends prometheus; }; then
  echo "ensure-prometheus: apt-get install prometheus failed; the monitoring tests need promtool and prometheus" >&2
  exit 1
fi
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "ensure-prometheus: the prometheus package installed, but promtool/prometheus are still not on PATH" >&2
  exit 1
fi
echo "ensure-prometheus: $(promtool --version 2>&1 | head -n 1)" >&2
