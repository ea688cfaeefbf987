
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_declaration_checksum'),
        ('enrollment', '0015_supplementary_confirmation'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='debitinstruction',
            name='instruction_one_live_per_confirmation',
        ),
        migrations.RemoveConstraint(
            model_name='debitinstruction',
            name='instruction_adjustment_has_correction',
        ),
        migrations.RemoveConstraint(
            model_name='declaration',
            name='declaration_one_live_per_roster',
        ),
        migrations.AddField(
            model_name='declaration',
            name='supplementary',
            field=models.BooleanField(db_default=False, default=False, help_text='名单确认后登记的迟到学生的补充确认', verbose_name='补充申报'),
        ),
        migrations.AlterField(
            model_name='debitinstruction',
            name='kind',
            field=models.CharField(choices=[('roster', '名单扣费'), ('supplementary', '补充确认扣费'), ('adjustment', '补扣')], default='roster', max_length=20, verbose_name='类型'),
        ),
        migrations.AddConstraint(
            model_name='debitinstruction',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ['roster', 'supplementary']), models.Q(('state', 'cancelled'), _negated=True)), fields=('confirmation',), name='instruction_one_live_per_confirmation'),
        ),
        migrations.AddConstraint(
            model_name='debitinstruction',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('correction__isnull', True), ('kind__in', ['roster', 'supplementary'])), models.Q(('correction__isnull', False), ('kind', 'adjustment')), _connector='OR'), name='instruction_adjustment_has_correction'),
        ),
        migrations.AddConstraint(
            model_name='declaration',
            constraint=models.UniqueConstraint(condition=models.Q(models.Q(('state', 'cancelled'), _negated=True), ('supplementary', False)), fields=('roster',), name='declaration_one_live_per_roster'),
        ),
    ]
