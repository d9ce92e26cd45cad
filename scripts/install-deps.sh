#!/usr/bin/env bash
# Installs the Debian 12 packages the plugin, its tests and its example pipelines need.
# Does nothing when they are all present; otherwise needs root (apt-get).
set -euo pipefail

packages=(
  pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-nice gstreamer1.0-libav libnice-dev gir1.2-nice-0.1
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  binutils meson ninja-build
  # libcrypto (OpenSSL 3): the cryptography of sframe and framecryptor.
  libssl-dev
  # The Python examples of the app transform (numpy effect, SFrame in Python) and their tests.
  python3-numpy python3-cryptography
  # The browser ends of the interop tests (BrowserInteropTests, FirefoxInteropTests,
  # LiveKitInteropTests) and of browser-call --headless-browser; Firefox calls run in a private
  # network namespace (unshare from util-linux, a veth pair made with iproute2's ip).
  chromium firefox-esr util-linux iproute2
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
