from django.db import migrations

# The student update trigger bumps the schools whose enrollments hold a student
# only for the students whose roster-page columns changed. Written as a join to
# a subquery, the planner flattened it and hashed every enrollment of the table
# before filtering (a sequential scan of all enrollments, spilling to disk, per
# statement: 0.1-0.2 s for each 10,000-student status update of the nightly run,
# which changes none of those columns). The changed students are now found
# first (MATERIALIZED), so their enrollments are looked up by index, none when
# no such column changed. Same schools bumped as before.
#
# The changed students are found without joining old_rows to new_rows: the
# transition tables have no statistics, the join was estimated at rows x rows /
# 200, and from about 50,000 rows (the tables spilled to disk past work_mem) the
# planner took a nested loop over them, quadratic: minutes for one statement.
# UNION keeps the two versions of a student apart only when a compared column
# differs (NULLs equal, as IS DISTINCT FROM), so "two versions" is "changed".
#
# JIT is off for these trigger functions: their row estimates crossed
# jit_above_cost, and a 10,000-row statement spent 10-30 ms compiling a query
# that runs in a few ms.
CHANGED_FIRST = """
CREATE OR REPLACE FUNCTION enrollment_student_stamp_update() RETURNS trigger LANGUAGE plpgsql
SET jit = off AS $$
BEGIN
    PERFORM enrollment_stamp_bump(ARRAY(
        WITH changed AS MATERIALIZED (
            SELECT id FROM (
                SELECT id, name, identity_number, grade, class_name, birth_date, school_id FROM old_rows
                UNION
                SELECT id, name, identity_number, grade, class_name, birth_date, school_id FROM new_rows
            ) AS versions
            GROUP BY id HAVING count(*) > 1
        )
        SELECT school_id FROM old_rows
        UNION SELECT school_id FROM new_rows
        UNION SELECT e.school_id FROM changed JOIN enrollment_enrollment AS e ON e.student_id = changed.id
    ));
    RETURN NULL;
END $$;
ALTER FUNCTION enrollment_student_stamp_rows() SET jit = off;
"""

# 0005's function, as it was.
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
ALTER FUNCTION enrollment_student_stamp_update() RESET jit;
ALTER FUNCTION enrollment_student_stamp_rows() RESET jit;
"""


def changed_first(apps, schema_editor):
    schema_editor.execute(CHANGED_FIRST)


def wider(apps, schema_editor):
    schema_editor.execute(WIDER)


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0018_insurance_year_coverage_description"),
    ]

    operations = [
        migrations.RunPython(changed_first, wider),
    ]
