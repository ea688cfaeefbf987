from django.db import migrations

# The record trigger finds the changed records without joining old_rows to
# new_rows: the transition tables have no statistics, the join was estimated at
# rows x rows / 200, and from about 50,000 records in one statement (the tables
# spilled to disk past work_mem) the planner took a nested loop over them,
# quadratic: minutes for one UPDATE (the feeds hold 100,000 records).
# UNION keeps the two versions of a record apart only when a compared column
# differs (NULLs equal, as IS DISTINCT FROM): the schools of an id with two
# versions are its old and its new school, as before.
#
# JIT is off in the function: the estimates crossed jit_above_cost, and a
# 10,000-record update spent 10-30 ms compiling a query that runs in a few ms.
COLUMNS = "id, school_id, student_id, outcome, resolved_at, name, identity_number, class_name, graduation_date"

LINEAR = f"""
CREATE OR REPLACE FUNCTION graduates_record_stamp_rows() RETURNS trigger LANGUAGE plpgsql
SET jit = off AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM enrollment_stamp_bump(ARRAY(SELECT school_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM enrollment_stamp_bump(ARRAY(SELECT school_id FROM old_rows));
    ELSE
        PERFORM enrollment_stamp_bump(ARRAY(
            SELECT unnest(array_agg(school_id)) FROM (
                SELECT {COLUMNS} FROM old_rows
                UNION
                SELECT {COLUMNS} FROM new_rows
            ) AS versions
            GROUP BY id HAVING count(*) > 1
        ));
    END IF;
    RETURN NULL;
END $$;
"""

# 0005's function, as it was.
JOINED = """
CREATE OR REPLACE FUNCTION graduates_record_stamp_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER FUNCTION graduates_record_stamp_rows() RESET jit;
"""


def linear(apps, schema_editor):
    schema_editor.execute(LINEAR)


def joined(apps, schema_editor):
    schema_editor.execute(JOINED)


class Migration(migrations.Migration):

    dependencies = [
        ("graduates", "0006_feed_run_city"),
    ]

    operations = [migrations.RunPython(linear, joined)]
