#!/usr/bin/env bash
# Prints a Purser database's manifest: schema version, rows per table, and key
# facts (endpoints with their state, runs and jobs per state, campaigns,
# secrets, tokens and certificates by name). Secret material (sealed values,
# token hashes, keys) is never printed.
#   tests/upgrade/manifest.sh purser.db
set -euo pipefail
db=$1
q() { sqlite3 -batch -noheader -separator ' ' "file:$db?mode=ro" "$@"; }
has_table() { [ "$(q "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='$1'")" = 1 ]; }
has_column() { [ "$(q "SELECT COUNT(*) FROM pragma_table_info('$1') WHERE name='$2'")" = 1 ]; }
echo "schema $(q 'SELECT MAX(version) FROM schema_migrations')"
for t in $(q "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"); do
  echo "table $t $(q "SELECT COUNT(*) FROM \"$t\"")"
done
q "SELECT 'endpoint', id, hostname, state FROM endpoints ORDER BY hostname"
q "SELECT 'runs_of_plan', plan_name, COUNT(*) FROM runs GROUP BY plan_name ORDER BY plan_name"
q "SELECT 'jobs_in_state', state, COUNT(*) FROM jobs GROUP BY state ORDER BY state"
if has_column jobs lease_expires_ms; then
  q "SELECT 'leased_jobs', COUNT(*) FROM jobs WHERE lease_expires_ms > 0"
fi
q "SELECT 'secret', name FROM secrets ORDER BY name"
q "SELECT 'token', id, max_uses, uses FROM tokens ORDER BY id" 2>/dev/null ||
  q "SELECT 'token', id FROM tokens ORDER BY id"
q "SELECT 'cert', role, subject, CASE WHEN revoked_ms > 0 THEN 'revoked' ELSE 'valid' END FROM certs
   ORDER BY role, subject, serial" 2>/dev/null || q "SELECT 'cert', role, subject FROM certs ORDER BY role, subject, serial"
if has_table campaigns; then q "SELECT 'campaign', id, state FROM campaigns ORDER BY id"; fi
if has_table artifacts; then q "SELECT 'artifact', name, size FROM artifacts ORDER BY name"; fi
if has_table plan_versions; then q "SELECT 'plan_version', name, sha256 FROM plan_versions ORDER BY name, sha256"; fi
if has_table audit; then q "SELECT 'audit_method', method, COUNT(*) FROM audit GROUP BY method ORDER BY method"; fi
