"""Exemption categories belong to a city: the existing ones are Suzhou's (苏府规字〔2017〕6号)."""

from django.db import migrations, models
import django.db.models.deletion


def categories_to_suzhou(apps, schema_editor):
    City = apps.get_model("enrollment", "City")
    ExemptionCategory = apps.get_model("enrollment", "ExemptionCategory")
    if not ExemptionCategory.objects.filter(city__isnull=True).exists():
        return
    # Only Suzhou's notice exempts students at school; Guangzhou 2014 routes them to civil affairs instead.
    suzhou, _created = City.objects.get_or_create(code="suzhou", defaults={"name": "苏州市"})
    ExemptionCategory.objects.filter(city__isnull=True).update(city=suzhou)


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0005_student_stamp_every_column"),
    ]

    operations = [
        migrations.AddField(
            model_name="exemptioncategory",
            name="city",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="exemption_categories",
                to="enrollment.city", verbose_name="城市",
                help_text="规定该免缴类别的统筹地区；参保年度只适用本市的免缴类别",
            ),
        ),
        migrations.RunPython(categories_to_suzhou, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="exemptioncategory",
            name="city",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="exemption_categories",
                to="enrollment.city", verbose_name="城市",
                help_text="规定该免缴类别的统筹地区；参保年度只适用本市的免缴类别",
            ),
        ),
        migrations.AlterField(
            model_name="exemptioncategory", name="code", field=models.CharField(max_length=40, verbose_name="代码"),
        ),
        migrations.AlterModelOptions(
            name="exemptioncategory",
            options={"ordering": ["city", "code"], "verbose_name": "免缴类别", "verbose_name_plural": "免缴类别"},
        ),
        migrations.AddConstraint(
            model_name="exemptioncategory",
            constraint=models.UniqueConstraint(fields=("city", "code"), name="exemption_category_unique_code"),
        ),
    ]
