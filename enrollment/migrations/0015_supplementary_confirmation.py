from django.conf import settings
from django.db import migrations, models


def lines_of_reopened_confirmations_not_live(apps, schema_editor):
    line = apps.get_model("enrollment", "ConfirmationLine")
    line.objects.filter(confirmation__reopened_at__isnull=False).update(live=False)


class Migration(migrations.Migration):
    """Supplementary confirmations of late students; a student is on at most one confirmation in force."""

    dependencies = [
        ('enrollment', '0014_audit_action_reminder_sent'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='auditevent',
            name='auditevent_action_known',
        ),
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
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('student_create', '新增学生'), ('student_update', '修改学生'), ('student_status', '学生状态变更'), ('student_import', '导入学生'), ('student_graduated', '学生毕业'), ('pseudonymise', '个人信息去标识化'), ('enrollment_create', '新增参保登记'), ('enrollment_update', '修改参保登记'), ('enrollment_remove', '移出参保名单'), ('enrollment_restore', '恢复到参保名单'), ('enrollment_add_late', '名单确认后登记迟到学生'), ('enrollment_fee_recompute', '重算应缴金额'), ('enrollment_exempt_after_confirm', '确认后认定免缴'), ('enrollment_exempt_after_billing', '扣款后认定免缴'), ('enrollment_paid', '缴费成功'), ('enrollment_refunded', '全额退费'), ('enrollment_partly_refunded', '部分退费'), ('graduate_deregistered', '毕业生停保'), ('roster_confirm', '确认参保名单'), ('roster_reopen', '退回参保名单'), ('roster_confirm_supplementary', '补充确认迟到学生'), ('supplementary_settled', '补充确认已结清'), ('roster_billed', '名单已出账'), ('roster_settled', '名单已结清'), ('fee_standard_publish', '公布缴费标准'), ('charge_correction', '补扣或退费调整'), ('correction_billed', '调整已出账'), ('exemption_create', '新增免缴人员'), ('exemption_update', '修改免缴人员'), ('debit_batch_generated', '生成扣款批次'), ('debit_results_imported', '导入扣款结果'), ('debit_instruction_retried', '重新扣款'), ('refunds_exported', '导出退费文件'), ('refund_results_imported', '导入退费结果'), ('declaration_paid', '申报已缴费'), ('card_photo_upload', '上传社保卡照片'), ('card_sent', '社保卡已送制'), ('card_ready', '社保卡已制成'), ('card_picked_up', '社保卡已领取'), ('coordinator_register', '登记协管员'), ('coordinator_update', '修改协管员'), ('coordinator_deactivate', '停用协管员'), ('notice_published', '发布通知'), ('notice_updated', '修改通知'), ('handout_recorded', '登记发放'), ('handout_updated', '修改发放记录'), ('documents_requested', '申请打印材料'), ('api_token_issued', '签发接口令牌'), ('api_tokens_revoked', '吊销接口令牌'), ('login_unlocked', '解除登录锁定'), ('reminder_sent', '发送催办提醒')], max_length=50, verbose_name='操作'),
        ),
        migrations.AddConstraint(
            model_name='auditevent',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['student_create', 'student_update', 'student_status', 'student_import', 'student_graduated', 'pseudonymise', 'enrollment_create', 'enrollment_update', 'enrollment_remove', 'enrollment_restore', 'enrollment_add_late', 'enrollment_fee_recompute', 'enrollment_exempt_after_confirm', 'enrollment_exempt_after_billing', 'enrollment_paid', 'enrollment_refunded', 'enrollment_partly_refunded', 'graduate_deregistered', 'roster_confirm', 'roster_reopen', 'roster_confirm_supplementary', 'supplementary_settled', 'roster_billed', 'roster_settled', 'fee_standard_publish', 'charge_correction', 'correction_billed', 'exemption_create', 'exemption_update', 'debit_batch_generated', 'debit_results_imported', 'debit_instruction_retried', 'refunds_exported', 'refund_results_imported', 'declaration_paid', 'card_photo_upload', 'card_sent', 'card_ready', 'card_picked_up', 'coordinator_register', 'coordinator_update', 'coordinator_deactivate', 'notice_published', 'notice_updated', 'handout_recorded', 'handout_updated', 'documents_requested', 'api_token_issued', 'api_tokens_revoked', 'login_unlocked', 'reminder_sent'])), name='auditevent_action_known'),
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
