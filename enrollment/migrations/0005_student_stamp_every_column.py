from django.db import migrations

# Any update of a student row now changes the stamp of its school (and of the
# school it moved from), not only what the roster page shows: the API's student
# list, cached under the same stamp, shows every column (status, hukou, citizen
# card...). Read straight from the transition tables, without comparing old and
# new rows: an update that changes nothing is rare and only costs a cache miss.
# Schools whose rosters hold the student are still bumped only for what a
# roster page shows, so the nightly run's status updates touch no enrollment.
WIDER = """
CREATE OR REPLACE FUNCTION enrollment_student_stamp_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enrollment_stamp_bump(ARRAY(
        SELECT school_id FROM old_rows
        UNION SELECT school_id FROM new_rows
        UNION SELECT e.school_id FROM enrollment_enrollment AS e JOIN (
            SELECT n.id FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
            WHERE (o.name, o.identity_number, o.grade, o.class_name, o.birth_date, o.school_id)
                IS DISTINCT FROM (n.name, n.identity_number, n.grade, n.class_name, n.birth_date, n.school_id)
        ) AS changed ON e.student_id = changed.id
    ));
    RETURN NULL;
END $$;
"""

NARROWER = """
CREATE OR REPLACE FUNCTION enrollment_student_stamp_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enrollment_stamp_bump(ARRAY(
        WITH changed AS (
            SELECT n.id, o.school_id AS old_school, n.school_id AS new_school
            FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
            WHERE (o.name, o.identity_number, o.grade, o.class_name, o.birth_date, o.school_id)
                IS DISTINCT FROM (n.name, n.identity_number, n.grade, n.class_name, n.birth_date, n.school_id)
        )
        SELECT old_school FROM changed
        UNION SELECT new_school FROM changed
        UNION SELECT e.school_id FROM enrollment_enrollment AS e JOIN changed ON e.student_id = changed.id
    ));
    RETURN NULL;
END $$;
"""


def widen(apps, schema_editor):
    schema_editor.execute(WIDER)


def narrow(apps, schema_editor):
    schema_editor.execute(NARROWER)


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0004_school_data_stamp"),
    ]

    operations = [
        migrations.RunPython(widen, narrow),
    ]
