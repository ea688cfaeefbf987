from django.db import migrations

# Graduate records change a roster page's suspected graduates and its list of
# graduates the nightly run could not stop: bump their schools' data stamp
# (enrollment.SchoolDataStamp) in the writing statement itself.
CREATE = """
CREATE FUNCTION graduates_record_stamp_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM enrollment_stamp_bump(ARRAY(SELECT school_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM enrollment_stamp_bump(ARRAY(SELECT school_id FROM old_rows));
    ELSE
        PERFORM enrollment_stamp_bump(ARRAY(
            WITH changed AS (
                SELECT o.school_id AS old_school, n.school_id AS new_school
                FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
                WHERE (o.school_id, o.student_id, o.outcome, o.resolved_at, o.name, o.identity_number,
                       o.class_name, o.graduation_date)
                    IS DISTINCT FROM (n.school_id, n.student_id, n.outcome, n.resolved_at, n.name,
                                      n.identity_number, n.class_name, n.graduation_date)
            )
            SELECT old_school FROM changed UNION SELECT new_school FROM changed
        ));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER graduates_record_stamp_insert AFTER INSERT ON graduates_graduaterecord
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION graduates_record_stamp_rows();
CREATE TRIGGER graduates_record_stamp_delete AFTER DELETE ON graduates_graduaterecord
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION graduates_record_stamp_rows();
CREATE TRIGGER graduates_record_stamp_update AFTER UPDATE ON graduates_graduaterecord
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION graduates_record_stamp_rows();
"""

DROP = """
DROP TRIGGER IF EXISTS graduates_record_stamp_insert ON graduates_graduaterecord;
DROP TRIGGER IF EXISTS graduates_record_stamp_delete ON graduates_graduaterecord;
DROP TRIGGER IF EXISTS graduates_record_stamp_update ON graduates_graduaterecord;
DROP FUNCTION IF EXISTS graduates_record_stamp_rows();
"""


def create_triggers(apps, schema_editor):
    schema_editor.execute(CREATE)


def drop_triggers(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0004_school_data_stamp"),
        ("graduates", "0004_leaner_write_path"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
