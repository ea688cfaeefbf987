"""python manage.py issue_api_token <username> [--days N | --no-expiry] [--revoke-others]"""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from enrollment.models import AuditEvent
from enrollment.services.common import Actor
from enrollment.services.tokens import api_token_issue, api_tokens_revoke


class Command(BaseCommand):
    help = "Issue an API token for an account and print it once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=None, help="valid for this many days (default: API_TOKEN_DAYS)")
        parser.add_argument("--no-expiry", action="store_true", help="a token that never expires (machine accounts only)")
        parser.add_argument("--revoke-others", action="store_true", help="revoke the account's other tokens first")

    def handle(self, *args, username, days, no_expiry, revoke_others, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"没有启用的账户 {username}。")
        if days is not None and days < 1:
            raise CommandError("--days 必须是正整数。")
        actor = Actor(user=None, source=AuditEvent.Source.SHELL, label=f"manage.py issue_api_token ({os.environ.get('USER', '')})")
        if revoke_others:
            revoked = api_tokens_revoke(actor=actor, user=user)
            self.stderr.write(f"已撤销 {revoked} 个旧令牌。")
        if no_expiry:
            days = None
        elif days is None:
            days = settings.REST_KNOX["TOKEN_TTL"].days
        token, text = api_token_issue(actor=actor, user=user, days=days)
        expiry = token.expiry.isoformat() if token.expiry else "永不过期"
        self.stderr.write(f"账户 {username} 的新令牌（有效期至 {expiry}），只显示这一次：")
        self.stdout.write(text)
