-- accounts (issue 10): the application's database role owns nothing.
-- Run once by the postgres image at the first start (docker-entrypoint-initdb.d), as the owner
-- role POSTGRES_USER (crisiscomm), which later runs the migrations and so owns every table.
-- crisiscomm_app reads and writes rows; it cannot create, alter or drop anything, cannot
-- disable a trigger (that needs ownership), cannot truncate, and holds no role it could inherit.
\set ON_ERROR_STOP on
\getenv app_password CRISISCOMM_APP_DB_PASSWORD

CREATE ROLE crisiscomm_app LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;

GRANT CONNECT ON DATABASE crisiscomm TO crisiscomm_app;
-- No CREATE on the schema: no table, function or trigger of its own.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO crisiscomm_app;

-- Tables and sequences the owner creates (the migrations) are usable row by row: no TRUNCATE,
-- no REFERENCES, no TRIGGER privilege.
ALTER DEFAULT PRIVILEGES FOR ROLE crisiscomm IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crisiscomm_app;
ALTER DEFAULT PRIVILEGES FOR ROLE crisiscomm IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO crisiscomm_app;
