#!/usr/bin/env bash
# Installs the system libraries Borderline links against and the Fashion-MNIST data set.
# Debian/Ubuntu, as root (or with sudo). Safe to run again.
set -euo pipefail
packages=(libopenblas-dev libhdf5-dev liblinear-dev libpng-dev zlib1g-dev libfreetype-dev libfontconfig-dev fonts-dejavu-core pkg-config dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  echo "installed: ${missing[*]}"
fi
