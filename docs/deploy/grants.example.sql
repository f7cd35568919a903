-- What the retention role may do to each table a rule sweeps (docs/deployment.md, "The
-- database role"): the grants for the example rules in the comments, to be written for
-- yours. Run after retention-role.sql, with the same psql variables (role, app_schema).
--
-- Every rule reads its key, anchor, `where` and `subject` columns (column-level SELECT), and
--   delete     DELETE on the table;
--   anonymize  UPDATE on exactly the columns it anonymizes, and SELECT on them (a row
--              already anonymized is recognized and left alone);
--   archive    SELECT on every column (each row is moved whole) and DELETE on the table,
--              INSERT on the archive table (which a rule of its own sweeps);
--   `cascades: allow` (rows other tables lose through ON DELETE CASCADE / SET NULL): SELECT on
--              the foreign-key columns of every table reached, and UPDATE on one column of
--              the rule's table and of each of them (each batch locks those rows with
--              SELECT ... FOR UPDATE, which PostgreSQL allows only with UPDATE);
--   `cascade:` (files or objects the rows own): SELECT on the template columns. The outbox
--              lives in a schema named as stateSchema in the rule's database: the state
--              schema itself when that is the state database; on another database, create
--              that schema there owned by the role (or let the role create it: CREATE on
--              that database).
-- The role owns none of these tables: an owner could ALTER, TRUNCATE or DROP them, and
-- row-level security does not apply to it (`retention check` warns of it).
-- A table with row-level security enabled hides from the role the rows its policies do not
-- let it see, and they would be kept past their date: `retention check` refuses such a
-- table unless the role has a permissive policy for ALL commands with USING (true) (no
-- restrictive policy applying to it). Give it one on each such table (not BYPASSRLS, which
-- lifts every policy on every table), e.g.:
--   CREATE POLICY retention_worker_all ON :"app_schema".login_logs TO :"role" USING (true);

-- rules: { id: login-logs-6m, table: login_logs, key: id, anchor: logged_in_at, where: { tenant_id: 1 },
--          subject: user_id, retain: P6M, action: delete }
GRANT SELECT (id, logged_in_at, tenant_id, user_id), DELETE ON :"app_schema".login_logs TO :"role";

-- rules: { id: closed-accounts-3y, table: accounts, key: id, anchor: closed_at, retain: P3Y,
--          action: anonymize, anonymize: { email: hmac, phone: "null" } }
GRANT SELECT (id, closed_at, email, phone), UPDATE (email, phone) ON :"app_schema".accounts TO :"role";

-- rules: { id: orders-archive-2y, table: orders, key: id, anchor: placed_at, retain: P2Y,
--          action: archive, archiveTable: orders_archive }
GRANT SELECT, DELETE ON :"app_schema".orders TO :"role";
GRANT INSERT ON :"app_schema".orders_archive TO :"role";

-- rules: { id: archived-orders-5y, table: orders_archive, key: id, anchor: archived_at, retain: P5Y, action: delete }
GRANT SELECT (id, archived_at), DELETE ON :"app_schema".orders_archive TO :"role";

-- rules: { id: id-photos-180d, table: id_photos, key: id, anchor: paid_at, retain: P180D, action: delete,
--          cascade: [{ store: photos, path: "{file_path}" }] }
-- (the photo files go with their rows, through the outbox in the state schema, which the role owns)
GRANT SELECT (id, paid_at, file_path), DELETE ON :"app_schema".id_photos TO :"role";
