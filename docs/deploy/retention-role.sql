-- The least-privilege PostgreSQL role retention runs as (docs/deployment.md, "The database
-- role"), and its state schema. Run as a superuser (or a role with CREATEROLE that owns the
-- application's schema), with psql:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -v role=retention_worker -v password="$RETENTION_DB_PASSWORD" \
--        -v database=app -v state_schema=retention -v app_schema=public -f docs/deploy/retention-role.sql
--
-- then, per rule, the grants of docs/deploy/grants.example.sql written for your tables, and
-- point the config's `state:` and `stores.NAME.url` at postgres://retention_worker:...@host/app.
-- `retention check` warns when the role it connects as is a superuser (or can SET ROLE to
-- one), has BYPASSRLS or CREATEROLE, owns the database or a table a rule sweeps.
-- test/cli/role-warnings.test.ts runs this file and grants.example.sql, then a real sweep
-- as the role they make: they are enough, and `check` has nothing to warn of.

-- Logs in; nothing else: not a superuser, no BYPASSRLS, CREATEROLE or CREATEDB.
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
GRANT CONNECT ON DATABASE :"database" TO :"role";

-- In the state database: the schema of the audit log, sweeps and checkpoints (stateSchema),
-- owned by the role, which creates and migrates its tables when it first starts. Here the
-- state database is the application's, so that each batch's change and its audit entry
-- commit in one transaction; with a separate state database, run these two statements there.
CREATE SCHEMA :"state_schema" AUTHORIZATION :"role";

-- In the application's database: reach the schema of its tables (each table's grants follow).
GRANT USAGE ON SCHEMA :"app_schema" TO :"role";
