#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database and an empty private-files directory.
#
#   createdb insurance_restored
#   DATABASE_URL=postgres://user:pass@host:5432/insurance_restored \
#   PRIVATE_MEDIA_ROOT=/data/private-restored scripts/restore.sh <stamp>.db.dump <stamp>.private.tar.gz
#
# Refuses to write into a database that already has tables or a directory that
# already has files, so a mistyped variable cannot merge two sites' data.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the empty database to restore into}"
if [ "$#" -ne 2 ]; then
    echo "usage: $0 DB_DUMP PRIVATE_TAR" >&2
    exit 2
fi
db_file="$1"
media_file="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
media="${PRIVATE_MEDIA_ROOT:-$here/var/private}"

sums="${db_file%.db.dump}.sha256"
if [ -f "$sums" ]; then
    (cd "$(dirname "$sums")" && sha256sum --check --quiet "$(basename "$sums")")
fi

tables="$(psql --dbname="$DATABASE_URL" --tuples-only --no-align \
    --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
if [ "$tables" != "0" ]; then
    echo "refusing to restore: the target database already has $tables tables" >&2
    exit 1
fi
if [ -d "$media" ] && [ -n "$(ls -A "$media")" ]; then
    echo "refusing to restore: $media is not empty" >&2
    exit 1
fi

pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$DATABASE_URL" "$db_file"

umask 077
mkdir -p "$media"
tar -C "$media" -xzf "$media_file"

echo "restored $db_file and $media_file"
