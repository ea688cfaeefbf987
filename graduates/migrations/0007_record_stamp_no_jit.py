from django.db import migrations

# The record trigger's join of its transition tables is estimated at
# rows x rows / 200: a 10,000-record update of the nightly run crossed
# jit_above_cost and spent 10-30 ms compiling a query that runs in a few ms.


def no_jit(apps, schema_editor):
    schema_editor.execute("ALTER FUNCTION graduates_record_stamp_rows() SET jit = off")


def default_jit(apps, schema_editor):
    schema_editor.execute("ALTER FUNCTION graduates_record_stamp_rows() RESET jit")


class Migration(migrations.Migration):

    dependencies = [
        ("graduates", "0006_feed_run_city"),
    ]

    operations = [migrations.RunPython(no_jit, default_jit)]
