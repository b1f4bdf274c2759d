-- Row-level security for RailSaaS (DESIGN section 3). Applied by a migration as the owner
-- role; safe to re-apply: every policy is dropped and recreated.
--
-- Transaction-local settings, set by the app at the start of every transaction:
--   app.tenant_id  selected workspace ('' = none)     app.user_id  signed-in user ('' = none)
--   app.role       '' | 'platform_admin' | 'system'
-- Each is read through a sub-select so the planner evaluates it once per query, not per row.
-- With nothing set, tenant tables show no rows: fail closed.
--
-- Every migration that adds a table re-applies this file (railsaas.dbadmin.apply_rls), so an
-- older migration running it skips tables that do not exist yet.

-- The standard policy of a tenant-owned table: rows of the selected workspace only;
-- platform admins (on admin routes) and system jobs see and change every workspace.
-- global_insert: rows with tenant_id NULL may be written by anyone (audit of an anonymous
-- login attempt, mail to a user outside a workspace), but only privileged roles read them.
CREATE OR REPLACE FUNCTION pg_temp.tenant_policy(tbl text, global_insert boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    own text := $$tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)$$;
    priv text := $$(SELECT current_setting('app.role', true)) IN ('platform_admin', 'system')$$;
    chk text;
BEGIN
    IF to_regclass(tbl) IS NULL THEN
        RETURN;
    END IF;
    chk := own || ' OR ' || priv;
    IF global_insert THEN
        chk := 'tenant_id IS NULL OR ' || chk;
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', tbl);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   tbl, own || ' OR ' || priv, chk);
END
$fn$;

-- A global catalog: everyone reads it, only platform admins and system jobs write it.
CREATE OR REPLACE FUNCTION pg_temp.catalog_policy(tbl text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    priv text := $$(SELECT current_setting('app.role', true)) IN ('platform_admin', 'system')$$;
BEGIN
    IF to_regclass(tbl) IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS catalog_read ON %I', tbl);
    EXECUTE format('DROP POLICY IF EXISTS catalog_write ON %I', tbl);
    EXECUTE format('CREATE POLICY catalog_read ON %I FOR SELECT USING (true)', tbl);
    EXECUTE format('CREATE POLICY catalog_write ON %I USING (%s) WITH CHECK (%s)',
                   tbl, priv, priv);
END
$fn$;

SELECT pg_temp.tenant_policy('memberships');
SELECT pg_temp.tenant_policy('invitations');
SELECT pg_temp.tenant_policy('api_tokens');
SELECT pg_temp.tenant_policy('subscriptions');
SELECT pg_temp.tenant_policy('instances');
SELECT pg_temp.tenant_policy('deployments');
SELECT pg_temp.tenant_policy('usage_metrics');
SELECT pg_temp.tenant_policy('notifications');
SELECT pg_temp.tenant_policy('usage_rollups');
SELECT pg_temp.tenant_policy('usage_meter_reports');
SELECT pg_temp.tenant_policy('uptime_monitors');
SELECT pg_temp.tenant_policy('uptime_checks');
SELECT pg_temp.tenant_policy('uptime_hourly');
SELECT pg_temp.tenant_policy('audit_log', global_insert => true);
SELECT pg_temp.tenant_policy('outbox', global_insert => true);
SELECT pg_temp.tenant_policy('emails', global_insert => true);

SELECT pg_temp.catalog_policy('templates');
SELECT pg_temp.catalog_policy('plans');

-- A person sees their own memberships in every workspace (the workspace switcher).
DROP POLICY IF EXISTS member_self_read ON memberships;
CREATE POLICY member_self_read ON memberships FOR SELECT
    USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));

-- Workspaces: the selected one, the ones the user belongs to, or all for privileged roles.
-- A new workspace is inserted with app.tenant_id already set to its id.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_read ON tenants;
DROP POLICY IF EXISTS tenant_write ON tenants;
CREATE POLICY tenant_read ON tenants FOR SELECT USING (
    id IN (SELECT tenant_id FROM memberships
           WHERE user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
);
CREATE POLICY tenant_write ON tenants
    USING (id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'))
    WITH CHECK (id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'));

-- Users: yourself, the members of the selected workspace, or all for privileged roles.
-- Sign-up inserts with app.user_id already set to the new id.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS user_self ON users;
DROP POLICY IF EXISTS user_workspace_read ON users;
DROP POLICY IF EXISTS user_definer_read ON users;
CREATE POLICY user_self ON users
    USING (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'))
    WITH CHECK (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'));
CREATE POLICY user_workspace_read ON users FOR SELECT USING (
    id IN (SELECT user_id FROM memberships
           WHERE tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
);
-- The owner role (the one running this file) reads users for the narrow SECURITY DEFINER
-- lookups below; the app role is not a member of it.
CREATE POLICY user_definer_read ON users FOR SELECT TO CURRENT_USER USING (true);

-- Refresh tokens belong to a user, not a workspace.
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS refresh_token_owner ON refresh_tokens;
CREATE POLICY refresh_token_owner ON refresh_tokens
    USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) = 'system')
    WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
           OR (SELECT current_setting('app.role', true)) = 'system');

-- Stripe events are processed by system jobs only.
ALTER TABLE stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE stripe_events FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS system_only ON stripe_events;
CREATE POLICY system_only ON stripe_events
    USING ((SELECT current_setting('app.role', true)) = 'system')
    WITH CHECK ((SELECT current_setting('app.role', true)) = 'system');

-- Free trials given (billing.trials): a person's rows, not a workspace's. System jobs write
-- them; a signed-in user reads their own (is a trial still theirs to take?).
DO $do$
BEGIN
    IF to_regclass('trial_claims') IS NOT NULL THEN
        ALTER TABLE trial_claims ENABLE ROW LEVEL SECURITY;
        ALTER TABLE trial_claims FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS trial_claim_read ON trial_claims;
        DROP POLICY IF EXISTS trial_claim_write ON trial_claims;
        CREATE POLICY trial_claim_read ON trial_claims FOR SELECT
            USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
                   OR (SELECT current_setting('app.role', true))
                      IN ('platform_admin', 'system'));
        CREATE POLICY trial_claim_write ON trial_claims
            USING ((SELECT current_setting('app.role', true)) = 'system')
            WITH CHECK ((SELECT current_setting('app.role', true)) = 'system');
    END IF;
END
$do$;

-- Roll-up bookkeeping (how far each roll-up has read usage_metrics): system jobs only.
DO $do$
BEGIN
    IF to_regclass('usage_rollup_marks') IS NOT NULL THEN
        ALTER TABLE usage_rollup_marks ENABLE ROW LEVEL SECURITY;
        ALTER TABLE usage_rollup_marks FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS system_only ON usage_rollup_marks;
        CREATE POLICY system_only ON usage_rollup_marks
            USING ((SELECT current_setting('app.role', true)) = 'system')
            WITH CHECK ((SELECT current_setting('app.role', true)) = 'system');
    END IF;
END
$do$;

-- Login finds a user by email before anyone is known: one narrow SECURITY DEFINER function
-- with a pinned search_path, returning only what sign-in needs.
CREATE OR REPLACE FUNCTION auth_find_user(p_email text)
RETURNS TABLE (id uuid, password_hash text, email_verified boolean, is_suspended boolean,
               session_version integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT u.id, u.password_hash, u.email_verified, u.is_suspended, u.session_version
    FROM public.users u WHERE u.email = lower(p_email)
$$;
REVOKE ALL ON FUNCTION auth_find_user(text) FROM PUBLIC;

-- The public status page (/status/<slug>, railsaas.uptime.status_page) finds its workspace
-- with nobody signed in: only the id, only of an active workspace that opted in. The page
-- then reads with the context scoped to that one workspace. plpgsql, so an older migration
-- re-applying this file creates it before the column exists.
DROP POLICY IF EXISTS tenant_definer_read ON tenants;
CREATE POLICY tenant_definer_read ON tenants FOR SELECT TO CURRENT_USER USING (true);
CREATE OR REPLACE FUNCTION status_page_workspace(p_slug text)
RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN (SELECT t.id FROM public.tenants t
            WHERE t.slug = p_slug AND t.status = 'active' AND t.status_page_enabled);
END
$$;
REVOKE ALL ON FUNCTION status_page_workspace(text) FROM PUBLIC;

-- Failed background jobs (observability): operators' data, no workspace reads it.
DO $$
BEGIN
    IF to_regclass('job_failures') IS NOT NULL THEN
        ALTER TABLE job_failures ENABLE ROW LEVEL SECURITY;
        ALTER TABLE job_failures FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS privileged_only ON job_failures;
        CREATE POLICY privileged_only ON job_failures
            USING ((SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'))
            WITH CHECK ((SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'));
    END IF;
END
$$;

-- Acquisition spend (reporting's CAC): platform data like job_failures, no workspace reads it.
DO $$
BEGIN
    IF to_regclass('acquisition_spend') IS NOT NULL THEN
        ALTER TABLE acquisition_spend ENABLE ROW LEVEL SECURITY;
        ALTER TABLE acquisition_spend FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS privileged_only ON acquisition_spend;
        CREATE POLICY privileged_only ON acquisition_spend
            USING ((SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'))
            WITH CHECK ((SELECT current_setting('app.role', true)) IN ('platform_admin', 'system'));
    END IF;
END
$$;
