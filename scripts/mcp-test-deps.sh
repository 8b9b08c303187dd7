#!/usr/bin/env bash
# Installs the real MCP parts the `tollgate mcp` tests run against into DIR:
#   DIR/node_modules/.bin/mcp-server-filesystem, mcp-server-everything  (npm, pinned)
#   DIR/venv/bin/python with the official `mcp` SDK                     (PyPI, pinned)
# then prints the line to export. Needs node/npm and python3 (with venv).
#   scripts/mcp-test-deps.sh target/mcp-test && export TOLLGATE_TEST_MCP=$PWD/target/mcp-test
set -euo pipefail
dir="${1:?usage: scripts/mcp-test-deps.sh DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cd "$dir"
[ -f package.json ] || echo '{"name": "tollgate-mcp-test-deps", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error \
    @modelcontextprotocol/server-filesystem@2026.8.31 \
    @modelcontextprotocol/server-everything@2026.8.31 >&2
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -m pip install --quiet --disable-pip-version-check 'mcp==2.3.0' >&2
echo "export TOLLGATE_TEST_MCP=$dir"
