#!/bin/sh
# Patroni's post_bootstrap: the database and role hypervisiond uses. PostGIS and the tables are
# created by hypervisiond's own migrations (it needs the right to create them).
set -e
psql -v ON_ERROR_STOP=1 "$1" <<'SQL'
CREATE ROLE hypervision LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE hypervision OWNER hypervision;
\c hypervision
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
