from django.db import migrations

# The school's own stamp now changes with any change to a student row (status,
# hukou, citizen card...), not only what the roster page shows: the API's
# student list, cached under the same stamp, shows every column. Schools whose
# rosters hold the student are still bumped only for what a roster page shows,
# so the nightly graduate run's status updates add no join on enrollments.
WIDER = """
CREATE OR REPLACE FUNCTION enrollment_student_stamp_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enrollment_stamp_bump(ARRAY(
        WITH changed AS (
            SELECT n.id, o.school_id AS old_school, n.school_id AS new_school,
                   (o.name, o.identity_number, o.grade, o.class_name, o.birth_date, o.school_id)
                       IS DISTINCT FROM (n.name, n.identity_number, n.grade, n.class_name, n.birth_date, n.school_id)
                       AS on_rosters
            FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
            WHERE o IS DISTINCT FROM n
        )
        SELECT old_school FROM changed
        UNION SELECT new_school FROM changed
        UNION SELECT e.school_id FROM enrollment_enrollment AS e JOIN changed ON e.student_id = changed.id
              WHERE changed.on_rosters
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
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(WIDER)


def narrow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NARROWER)


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0004_school_data_stamp"),
    ]

    operations = [
        migrations.RunPython(widen, narrow),
    ]
