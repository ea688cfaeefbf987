from django.conf import settings
from django.db import migrations, models


def lines_of_reopened_confirmations_not_live(apps, schema_editor):
    line = apps.get_model("enrollment", "ConfirmationLine")
    line.objects.filter(confirmation__reopened_at__isnull=False).update(live=False)


class Migration(migrations.Migration):
    """Supplementary confirmations of late students; a student is on at most one confirmation in force."""

    dependencies = [
        ('enrollment', '0012_school_graduation_date'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='rosterconfirmation',
            name='confirmation_one_live_per_roster',
        ),
        migrations.AddField(
            model_name='confirmationline',
            name='live',
            field=models.BooleanField(db_default=True, default=True, verbose_name='有效'),
        ),
        migrations.AddField(
            model_name='rosterconfirmation',
            name='supplementary',
            field=models.BooleanField(db_default=False, default=False, help_text='名单确认或扣费后登记的迟到学生（迟录取新生、转入学生）单独确认，作为补充扣费/补充申报', verbose_name='补充确认'),
        ),
        # Lines of confirmations already sent back are no longer in force.
        migrations.RunPython(lines_of_reopened_confirmations_not_live, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='confirmationline',
            constraint=models.UniqueConstraint(condition=models.Q(('live', True)), fields=('enrollment',), name='confirmation_line_one_live_per_enrollment'),
        ),
        migrations.AddConstraint(
            model_name='rosterconfirmation',
            constraint=models.UniqueConstraint(condition=models.Q(('reopened_at__isnull', True), ('supplementary', False)), fields=('roster',), name='confirmation_one_live_per_roster'),
        ),
    ]
