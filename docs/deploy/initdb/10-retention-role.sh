#!/bin/sh
# Run once by the postgres image, on an empty data directory (/docker-entrypoint-initdb.d,
# docs/deploy/compose.yaml): the least-privilege role retention runs as and its state
# schema, from docs/deploy/retention-role.sql. The grants on the application's tables
# (docs/deploy/grants.example.sql) are yours to write once those tables exist.
set -eu
: "${RETENTION_DB_PASSWORD:?set RETENTION_DB_PASSWORD: the password of the retention role}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="${RETENTION_DB_ROLE:-retention_worker}" \
  -v password="$RETENTION_DB_PASSWORD" \
  -v database="$POSTGRES_DB" \
  -v state_schema="${RETENTION_STATE_SCHEMA:-retention}" \
  -v app_schema="${RETENTION_APP_SCHEMA:-public}" \
  -f "${RETENTION_ROLE_SQL:-/retention/retention-role.sql}"
