#!/usr/bin/env bash
# Prints p28-rules.yml with every runbook_url made absolute: ${RUNBOOK_BASE_URL} becomes the URL of
# the folder that holds runbook.md (where on-call opens it: a Git web view, an internal docs site).
#
#   deploy/prometheus/render.sh https://git.example.com/trading/p28/-/blob/main/docs \
#     > /etc/prometheus/rules/p28-rules.yml
#
# The base may also come from P28_RUNBOOK_BASE_URL. Exit 2 when it is missing or not an absolute
# http(s) URL: Alertmanager and chat show the link as is, so a relative one is useless there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${1:-${P28_RUNBOOK_BASE_URL:-}}"
# no quote, backslash or space: the value lands inside single-quoted YAML strings
if ! [[ "$base" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%/+=@,:-]*)?$ ]]; then
  echo "usage: $0 <absolute http(s) URL of the folder holding runbook.md> (got: '${base}')" >&2
  exit 2
fi
base="${base%/}"
out="$(sed "s|\${RUNBOOK_BASE_URL}|${base}|g" "$here/p28-rules.yml")"
if grep -q 'RUNBOOK_BASE_URL' <<<"$out"; then
  echo "render.sh: a placeholder was left unreplaced" >&2
  exit 1
fi
printf '%s\n' "$out"
