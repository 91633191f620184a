#!/usr/bin/env bash
# Checks and unit-tests the Prometheus rules of this folder with promtool, rendered by render.sh
# with a test base URL for the runbook links.
#
#   deploy/prometheus/test.sh          exit 0 when both pass, 1 when either fails
#
# promtool comes with Prometheus (Debian/Ubuntu: `apt-get install prometheus`; or the release
# tarball from prometheus.io). Without it the script skips with exit 0 on a workstation, but when
# CI is set (any non-empty value) a missing promtool is a failure: CI must not pass untested rules.
# PROMTOOL overrides the binary (e.g. PROMTOOL=/opt/prometheus/promtool).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
promtool="${PROMTOOL:-promtool}"

if ! command -v "$promtool" >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then
    echo "FAIL: promtool not found (CI=${CI}); install it: apt-get install -y prometheus" >&2
    exit 1
  fi
  echo "SKIP: promtool not found; rules not checked (apt-get install -y prometheus to enable)"
  exit 0
fi

# The tests expect the runbook links of this base; promtool resolves rule_files relative to the test
# file, so both go into a scratch folder.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/render.sh" https://runbooks.example.test/p28/docs >"$work/p28-rules.yml"
cp "$here/p28-rules.test.yml" "$work/"
cd "$work"
echo "== $("$promtool" --version 2>&1 | head -n 1)"
echo "== promtool check rules p28-rules.yml (rendered)"
"$promtool" check rules p28-rules.yml
echo "== promtool test rules p28-rules.test.yml"
"$promtool" test rules p28-rules.test.yml
echo "OK: rules valid and every rule test passed"
