-- Row-level security for RailSaaS (DESIGN section 3; docs/security.md). Applied by a migration
-- as the owner role; safe to re-apply: every policy is dropped and recreated.
--
-- Who sees what is decided by the database login, one per kind of work (their names come
-- from session settings railsaas.web_role / admin_role / system_role, set by dbadmin.apply_rls):
--   web     customer-facing requests: the selected workspace and the signed-in user only,
--           by plain equality; no privileged branch, so no setting widens it
--   admin   /admin and the admin API, for platform admins: every workspace, not the
--           system-only tables
--   system  Celery worker and beat (and the few writes that belong to no request): every row
-- No login is a member of another (NOINHERIT, no GRANT between them): none can SET ROLE up.
--
-- Transaction-local settings, set by the app at the start of every transaction:
--   app.tenant_id  selected workspace ('' = none)     app.user_id  signed-in user ('' = none)
-- Each is read through a sub-select so the planner evaluates it once per query, not per row.
-- With nothing set, tenant tables show the web login no rows: fail closed.
--
-- Every migration that adds a table re-applies this file (railsaas.dbadmin.apply_rls), so an
-- older migration running it skips tables that do not exist yet.

CREATE OR REPLACE FUNCTION pg_temp.login(kind text) RETURNS text LANGUAGE sql AS $$
    SELECT quote_ident(current_setting('railsaas.' || kind || '_role'))
$$;

-- Drop every policy of a table we (re)create here, including ones of older versions of this
-- file (tenant_isolation for every role read app.role; it must not survive).
CREATE OR REPLACE FUNCTION pg_temp.reset_policies(tbl text)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
    p record;
BEGIN
    IF to_regclass(tbl) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
    FOR p IN SELECT policyname FROM pg_policies
             WHERE schemaname = 'public' AND tablename = tbl
               AND policyname NOT LIKE '%definer%' LOOP
        EXECUTE format('DROP POLICY %I ON %I', p.policyname, tbl);
    END LOOP;
    RETURN true;
END
$fn$;

-- One permissive policy per login. expr NULL: that login gets no policy (sees no rows).
CREATE OR REPLACE FUNCTION pg_temp.policy(tbl text, kind text, using_expr text,
                                          check_expr text DEFAULT NULL,
                                          cmd text DEFAULT 'ALL')
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF to_regclass(tbl) IS NULL THEN
        RETURN;
    END IF;
    IF cmd = 'SELECT' THEN
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO %s USING (%s)',
                       kind || '_' || lower(cmd), tbl, pg_temp.login(kind), using_expr);
    ELSE
        EXECUTE format('CREATE POLICY %I ON %I FOR %s TO %s USING (%s) WITH CHECK (%s)',
                       kind || '_' || lower(cmd), tbl, cmd, pg_temp.login(kind), using_expr,
                       coalesce(check_expr, using_expr));
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.own_tenant() RETURNS text LANGUAGE sql AS $$
    SELECT $q$tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)$q$
$$;

-- A tenant-owned table: the web login, rows of the selected workspace only; the admin and
-- system logins, every workspace. global_insert: the web login may also insert rows with
-- tenant_id NULL (audit of an anonymous login attempt, mail to a user outside a workspace),
-- which only admin and system read; it inserts them without RETURNING
-- (railsaas.platform.unscoped).
CREATE OR REPLACE FUNCTION pg_temp.tenant_policy(tbl text, global_insert boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT pg_temp.reset_policies(tbl) THEN
        RETURN;
    END IF;
    PERFORM pg_temp.policy(tbl, 'web', pg_temp.own_tenant());
    IF global_insert THEN
        EXECUTE format('CREATE POLICY web_insert_global ON %I FOR INSERT TO %s '
                       'WITH CHECK (tenant_id IS NULL)', tbl, pg_temp.login('web'));
    END IF;
    PERFORM pg_temp.policy(tbl, 'admin', 'true');
    PERFORM pg_temp.policy(tbl, 'system', 'true');
END
$fn$;

-- A global catalog: everyone reads it, only the admin and system logins write it.
CREATE OR REPLACE FUNCTION pg_temp.catalog_policy(tbl text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT pg_temp.reset_policies(tbl) THEN
        RETURN;
    END IF;
    PERFORM pg_temp.policy(tbl, 'web', 'true', cmd => 'SELECT');
    PERFORM pg_temp.policy(tbl, 'admin', 'true');
    PERFORM pg_temp.policy(tbl, 'system', 'true');
END
$fn$;

-- Operators' data: no workspace reads it. system_only: not even the admin login.
CREATE OR REPLACE FUNCTION pg_temp.operator_policy(tbl text, system_only boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT pg_temp.reset_policies(tbl) THEN
        RETURN;
    END IF;
    IF NOT system_only THEN
        PERFORM pg_temp.policy(tbl, 'admin', 'true');
    END IF;
    PERFORM pg_temp.policy(tbl, 'system', 'true');
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

SELECT pg_temp.operator_policy('stripe_events', system_only => true);
SELECT pg_temp.operator_policy('usage_rollup_marks', system_only => true);
SELECT pg_temp.operator_policy('job_failures', system_only => false);
-- Acquisition spend (reporting's CAC): platform data like job_failures; no workspace reads it.
SELECT pg_temp.operator_policy('acquisition_spend', system_only => false);

-- A person sees their own memberships in every workspace (the workspace switcher).
SELECT pg_temp.policy('memberships', 'web',
    $$user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)$$,
    cmd => 'SELECT');
ALTER POLICY web_select ON memberships RENAME TO web_member_self_read;

-- Workspaces: the web login reads the selected one and the ones the user belongs to, and
-- writes the selected one (a new workspace is inserted with app.tenant_id already its id).
SELECT pg_temp.reset_policies('tenants');
SELECT pg_temp.policy('tenants', 'web',
    $$id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)$$);
SELECT pg_temp.policy('tenants', 'web', $$id IN (SELECT tenant_id FROM memberships
    WHERE user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))$$,
    cmd => 'SELECT');
SELECT pg_temp.policy('tenants', 'admin', 'true');
SELECT pg_temp.policy('tenants', 'system', 'true');

-- Users: the web login, yourself (read and write, within its column grants: see
-- dbadmin.USER_PRIVILEGED_COLUMNS) and the members of the selected workspace (read). Sign-up
-- inserts with app.user_id already set to the new id.
SELECT pg_temp.reset_policies('users');
SELECT pg_temp.policy('users', 'web',
    $$id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)$$);
SELECT pg_temp.policy('users', 'web', $$id IN (SELECT user_id FROM memberships
    WHERE tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))$$,
    cmd => 'SELECT');
SELECT pg_temp.policy('users', 'admin', 'true');
SELECT pg_temp.policy('users', 'system', 'true');
-- Nobody changes their own row with a privileged login (an admin promoting or unsuspending
-- themselves; admin_users refuses it too): restrictive, so it narrows the policies above.
DO $do$
BEGIN
    EXECUTE format($f$CREATE POLICY not_own_row ON users AS RESTRICTIVE FOR UPDATE TO %s, %s
        USING (id IS DISTINCT FROM (SELECT nullif(current_setting('app.user_id', true), '')::uuid))$f$,
        pg_temp.login('admin'), pg_temp.login('system'));
END
$do$;
-- The owner role (the one running this file) reads users for the narrow SECURITY DEFINER
-- functions below, and updates a user's own row through two of them; no login is a member
-- of it.
DROP POLICY IF EXISTS user_definer_read ON users;
CREATE POLICY user_definer_read ON users FOR SELECT TO CURRENT_USER USING (true);
DROP POLICY IF EXISTS user_definer_update ON users;
CREATE POLICY user_definer_update ON users FOR UPDATE TO CURRENT_USER
    USING (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));

-- Refresh tokens belong to a user, not a workspace.
SELECT pg_temp.reset_policies('refresh_tokens');
SELECT pg_temp.policy('refresh_tokens', kind,
    $$user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)$$)
FROM unnest(ARRAY['web', 'admin']) AS kind;
SELECT pg_temp.policy('refresh_tokens', 'system', 'true');

-- Two-factor sign-in (accounts.two_factor): a person's rows. Each login sees the signed-in
-- user's own (an admin's pages check the admin's own enrolment); the system login all.
SELECT pg_temp.reset_policies(tbl) FROM unnest(ARRAY['user_two_factor', 'user_recovery_codes']) AS tbl;
SELECT pg_temp.policy(tbl, kind,
    $$user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)$$)
FROM unnest(ARRAY['user_two_factor', 'user_recovery_codes']) AS tbl,
     unnest(ARRAY['web', 'admin']) AS kind;
SELECT pg_temp.policy(tbl, 'system', 'true')
FROM unnest(ARRAY['user_two_factor', 'user_recovery_codes']) AS tbl;

-- Free trials given (billing.trials): a person's rows, not a workspace's. The system login
-- writes them; a signed-in user reads their own (is a trial still theirs to take?), the
-- admin login reads them all.
SELECT pg_temp.reset_policies('trial_claims');
SELECT pg_temp.policy('trial_claims', 'web',
    $$user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)$$,
    cmd => 'SELECT');
SELECT pg_temp.policy('trial_claims', 'admin', 'true', cmd => 'SELECT');
SELECT pg_temp.policy('trial_claims', 'system', 'true');
-- Claiming one (billing.trials.claim) also happens in the web login's request (the checkout
-- success page applies a new subscription) and must see every person's claims to refuse a
-- second trial: a SECURITY DEFINER function that only records a claim for one subscription
-- (idempotent) and answers whether this subscription holds it. plpgsql, so an older
-- migration re-applying this file creates it before the table exists.
DO $do$
BEGIN
    IF to_regclass('trial_claims') IS NOT NULL THEN
        DROP POLICY IF EXISTS trial_claim_definer ON trial_claims;
        CREATE POLICY trial_claim_definer ON trial_claims TO CURRENT_USER
            USING (true) WITH CHECK (true);
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION billing_claim_trial(p_subscription text, p_user uuid,
                                               p_customer text, p_card text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    claimed uuid;
BEGIN
    SELECT c.id INTO claimed FROM public.trial_claims c
    WHERE c.stripe_subscription_id = p_subscription;
    IF claimed IS NULL THEN
        INSERT INTO public.trial_claims (user_id, stripe_customer_id, card_fingerprint,
                                         stripe_subscription_id)
        VALUES (p_user, p_customer, p_card, p_subscription)
        ON CONFLICT DO NOTHING RETURNING id INTO claimed;
    END IF;
    RETURN claimed IS NOT NULL;
END
$$;
REVOKE ALL ON FUNCTION billing_claim_trial(text, uuid, text, text) FROM PUBLIC;

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
-- then reads, as the web login, with the context scoped to that one workspace. plpgsql, so
-- an older migration re-applying this file creates it before the column exists.
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

-- The two writes of users' privileged columns a customer-facing login must make, for the
-- signed-in user (app.user_id) only. Verifying: the caller has checked the signed link.
-- An injection could call it for its own account, which is what the link proves anyway for
-- an address the attacker controls; it cannot promote, unsuspend or touch another row.
CREATE OR REPLACE FUNCTION auth_mark_email_verified() RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE public.users SET email_verified = true
    WHERE id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
    RETURNING true
$$;
REVOKE ALL ON FUNCTION auth_mark_email_verified() FROM PUBLIC;

-- Logging out everywhere (logout, password change or reset) invalidates every session.
CREATE OR REPLACE FUNCTION auth_bump_session_version() RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE public.users SET session_version = session_version + 1
    WHERE id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
    RETURNING session_version
$$;
REVOKE ALL ON FUNCTION auth_bump_session_version() FROM PUBLIC;

-- The pool of Railway workspaces (railsaas.railway.pool): platform data holding encrypted
-- tokens. No workspace reads it; the admin login manages it, the system login uses it.
SELECT pg_temp.operator_policy('railway_workspaces', system_only => false);
-- Placing a customer workspace at its first deploy happens in the customer's own request
-- (railsaas.instances.lifecycle.create_instance, web login) and must see every entry and
-- every workspace's instance count: a SECURITY DEFINER function that only ever sets the
-- placement of one workspace that has none (or whose entry is closed, hence empty), to the
-- least loaded open entry, and answers where it is. It never returns a token. plpgsql, so
-- an older migration re-applying this file creates it before the tables exist.
DO $do$
BEGIN
    IF to_regclass('railway_workspaces') IS NOT NULL THEN
        DROP POLICY IF EXISTS railway_workspace_definer_read ON railway_workspaces;
        CREATE POLICY railway_workspace_definer_read ON railway_workspaces FOR SELECT
            TO CURRENT_USER USING (true);
        DROP POLICY IF EXISTS railway_workspace_definer_environment ON railway_workspaces;
        CREATE POLICY railway_workspace_definer_environment ON railway_workspaces FOR INSERT
            TO CURRENT_USER WITH CHECK (token_source = 'environment');
        DROP POLICY IF EXISTS instance_definer_read ON instances;
        CREATE POLICY instance_definer_read ON instances FOR SELECT TO CURRENT_USER
            USING (true);
        DROP POLICY IF EXISTS tenant_definer_place ON tenants;
        CREATE POLICY tenant_definer_place ON tenants FOR UPDATE TO CURRENT_USER
            USING (true) WITH CHECK (true);
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION railway_place_workspace(p_tenant uuid, p_environment_ok boolean)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    pinned uuid;
    chosen uuid;
BEGIN
    SELECT t.railway_workspace_id INTO pinned FROM public.tenants t
    WHERE t.id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF pinned IS NOT NULL AND EXISTS (
        SELECT 1 FROM public.railway_workspaces w WHERE w.id = pinned AND w.state <> 'closed'
    ) THEN
        RETURN pinned;
    END IF;
    -- One placement at a time: two first deploys at once see each other's load.
    PERFORM pg_advisory_xact_lock(hashtext('railsaas.railway_place_workspace'));
    -- The environment's entry (migration 0009 makes it) is made again if it went missing.
    IF p_environment_ok AND NOT EXISTS (
        SELECT 1 FROM public.railway_workspaces w WHERE w.token_source = 'environment'
    ) THEN
        INSERT INTO public.railway_workspaces (name, token_source, state)
        VALUES ('primary', 'environment', 'open') ON CONFLICT DO NOTHING;
    END IF;
    SELECT w.id INTO chosen
    FROM public.railway_workspaces w
    WHERE w.state = 'open' AND (p_environment_ok OR w.token_source <> 'environment')
    ORDER BY (
        SELECT count(*) FROM public.instances i
        WHERE i.status <> 'deleted'
          AND (i.railway_workspace_id = w.id
               OR (i.railway_workspace_id IS NULL AND w.token_source = 'environment'))
    ), w.created_at, w.id
    LIMIT 1;
    IF chosen IS NOT NULL THEN
        UPDATE public.tenants SET railway_workspace_id = chosen WHERE id = p_tenant;
    END IF;
    RETURN chosen;
END
$$;
REVOKE ALL ON FUNCTION railway_place_workspace(uuid, boolean) FROM PUBLIC;
