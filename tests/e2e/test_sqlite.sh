#!/usr/bin/env bash
# The sqlite3 CLI (Debian's): a table of 100 000 rows with deterministic
# pseudo-random text made by a recursive CTE inside one transaction, two
# indexes, aggregate queries, a self-join, updates, deletes, VACUUM and an
# integrity check, on a database file. The query output must equal the
# glibc run's; ebbmalloc's stderr holds its stats marker and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need sqlite3

cat >"$tmp/work.sql" <<'SQL'
.bail on
.headers off
.mode list
PRAGMA cache_size = -20000;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL, c REAL);
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000)
INSERT INTO t(a, b, c)
SELECT (x * 2654435761) % 50021,
       printf('%08x-%s-%d', (x * 2654435761 + 17) % 4294967291,
              substr('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 1 + x % 37, 1 + x % 16),
              x % 977),
       (x % 1000) / 7.0
FROM n;
COMMIT;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT 'rows', count(*), sum(a), min(b), max(b), round(avg(c), 6) FROM t;
SELECT 'group', a % 10, count(*), sum(length(b)), round(sum(c), 3) FROM t GROUP BY a % 10 ORDER BY 2;
SELECT 'range', b FROM t WHERE a BETWEEN 1000 AND 5000 ORDER BY b LIMIT 5;
SELECT 'distinct', count(DISTINCT substr(b, 10, 6)) FROM t;
SELECT 'top', group_concat(id, ',') FROM (SELECT id FROM t ORDER BY b DESC LIMIT 10);
SELECT 'join', count(*) FROM t AS t1 JOIN t AS t2 ON t1.a = t2.a AND t1.id < t2.id;
SELECT 'like', count(*) FROM t WHERE b LIKE '%abc%';
SELECT 'window', id, running FROM (SELECT id, sum(a) OVER (ORDER BY id ROWS 50 PRECEDING) AS running FROM t) WHERE id % 20000 = 0;
BEGIN;
UPDATE t SET b = b || '/' || b WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
COMMIT;
VACUUM;
SELECT 'after', count(*), sum(length(b)), max(length(b)) FROM t;
SELECT 'hash', count(*), sum(unicode(substr(b, 1 + id % 8, 1)) * id % 1000003) FROM t;
PRAGMA integrity_check;
SQL

run_glibc glibc sqlite3 "$tmp/glibc.db" ".read $tmp/work.sql"
expect_status "sqlite3 on glibc: exit 0" 0
expect_eq "sqlite3 on glibc: 100000 rows" "rows|100000" "$(grep '^rows|' "$tmp/glibc.out" | cut -d'|' -f1-2)"
expect_eq "sqlite3 on glibc: integrity ok" "ok" "$(tail -n 1 "$tmp/glibc.out")"

run_ebb ebb sqlite3 "$tmp/ebb.db" ".read $tmp/work.sql"
expect_status "sqlite3 on ebbmalloc: exit 0" 0
expect_same_file "sqlite3 on ebbmalloc: same output as glibc" "$tmp/glibc.out" "$tmp/ebb.out"
expect_marker "sqlite3 on ebbmalloc: stats marker" "$tmp/ebb.err"
expect_same_stderr "sqlite3 on ebbmalloc: nothing else on stderr" "$tmp/glibc.err" "$tmp/ebb.err"

# The database files themselves must be the same.
expect_eq "sqlite3: the two database files are identical" "same" \
	"$(cmp -s "$tmp/glibc.db" "$tmp/ebb.db" && echo same || echo different)"

finish
