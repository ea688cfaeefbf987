"""API tokens move to django-rest-knox, which stores only a hash: the plain-text tokens are deleted.

Their holders need new tokens (docs/operations.md, "API tokens"); the names of
the accounts that had one are printed here so the operator knows whom to reissue.
"""

from django.db import migrations

OLD_TABLE = "authtoken_token"


def drop_plain_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.username FROM {OLD_TABLE} t JOIN auth_user u ON u.id = t.user_id ORDER BY u.username"
        )
        holders = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {OLD_TABLE}")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")
    if holders:
        print(f"\n  Plain-text API tokens deleted; issue new tokens (manage.py issue_api_token) for: {', '.join(holders)}")


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0009_job_sweeper_schedule"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(drop_plain_tokens, migrations.RunPython.noop)]
