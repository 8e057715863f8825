#!/usr/bin/env bash
# Creates .venv with the Python peers of the tests (moto, toloka-kit) on first use, and again
# whenever test/peers/requirements.txt changes. Quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=test/peers/requirements.txt
stamp=.venv/.requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
echo "setting up Python test peers in .venv (moto, toloka-kit): about a minute on first run" >&2
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements" >&2
echo "$wanted" > "$stamp"
