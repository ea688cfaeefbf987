#!/usr/bin/env bash
# Back up the database (pg_dump custom format) and the private files (tar).
#
#   DATABASE_URL=postgres://user:pass@host:5432/insurance \
#   PRIVATE_MEDIA_ROOT=/data/private scripts/backup.sh [DEST_DIR]
#
# Writes DEST_DIR/<stamp>.db.dump, DEST_DIR/<stamp>.private.tar.gz and
# DEST_DIR/<stamp>.sha256, readable by the owner only: the backup holds every
# student's name and identity number. BACKUP_KEEP_DAYS (default 30) removes
# older backups from DEST_DIR. Restore with scripts/restore.sh.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL (postgres://user:password@host:port/name)}"
here="$(cd "$(dirname "$0")/.." && pwd)"
media="${PRIVATE_MEDIA_ROOT:-$here/var/private}"
dest="${1:-${BACKUP_DIR:-$here/var/backups}}"
keep_days="${BACKUP_KEEP_DAYS:-30}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

umask 077
mkdir -p "$dest"
db_file="$dest/$stamp.db.dump"
media_file="$dest/$stamp.private.tar.gz"

# Custom format: compressed, restorable table by table, checked by pg_restore --list.
pg_dump --format=custom --no-owner --no-privileges --file="$db_file.partial" --dbname="$DATABASE_URL"
mv "$db_file.partial" "$db_file"

mkdir -p "$media"
tar -C "$media" -czf "$media_file.partial" .
mv "$media_file.partial" "$media_file"

# A dump that pg_restore cannot list is no backup: fail loudly now, not on the day it is needed.
pg_restore --list "$db_file" > /dev/null

(cd "$dest" && sha256sum "$(basename "$db_file")" "$(basename "$media_file")" > "$stamp.sha256")

if [ "$keep_days" -gt 0 ]; then
    find "$dest" -maxdepth 1 -type f \( -name '*.db.dump' -o -name '*.private.tar.gz' -o -name '*.sha256' \) \
        -mtime +"$keep_days" -delete
fi

echo "$db_file"
echo "$media_file"
