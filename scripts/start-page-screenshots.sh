#!/usr/bin/env bash
# Refresh the start page screenshots in docs/img/ (phone and desktop width, light and dark) from a
# real run: the start page integration test brings up two stacklets, renders the page `stack`
# wrote in headless Chromium, checks its links and QR codes, and keeps the screenshots here.
# Needs what scripts/test.sh prepares (Docker, the test images, chromium, zbar-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/img"
mkdir -p "$out"
export PYO3_PYTHON="${PYO3_PYTHON:-/usr/bin/python3}"
STACK_START_PAGE_SCREENSHOTS="$out" cargo test --locked --test integration \
  start_page::start_page_links_and_qr_codes_lead_to_the_running_stacklets -- --exact
ls -l "$out"/start-page-*.png
