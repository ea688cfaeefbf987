"""Take the operation manual's screenshots from the demo data, so the manual shows no placeholder.

Run after ``seed_demo``: the site is served on a free local port inside this process, headless Chromium opens
each page of ``coordinators.manual_screenshots.STEPS`` as its demo account, and the images are written to
``docs/manual/screenshots`` (or ``--output``).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from coordinators import manual, manual_screenshots


class Command(BaseCommand):
    help = "用演示数据生成操作手册的截图（先运行 seed_demo；需要 Chromium）。"

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=manual.SCREENSHOT_DIR, help="截图保存目录")
        parser.add_argument("--base-url", default=None,
                            help="使用已在运行的站点（如 http://127.0.0.1:8000），不在本进程内启动")

    def handle(self, *args, output: Path, base_url: str | None, **options):
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            raise CommandError("未安装 Playwright，无法截图（make install）。") from exc
        if not Path(manual_screenshots.CHROMIUM).exists():
            raise CommandError(f"未找到 Chromium（{manual_screenshots.CHROMIUM}），请先 make system-packages。")
        usernames = {step.username for step in manual_screenshots.STEPS if step.username}
        missing = usernames - set(get_user_model().objects.filter(username__in=usernames).values_list("username", flat=True))
        if missing:
            raise CommandError(f"缺少演示账户 {'、'.join(sorted(missing))}，请先运行 python manage.py seed_demo。")
        if base_url:
            written = manual_screenshots.generate(base_url.rstrip("/"), output)
        else:
            with manual_screenshots.serve() as url:
                written = manual_screenshots.generate(url, output)
        for path in written:
            self.stdout.write(f"  {path}")
        self.stdout.write(self.style.SUCCESS(f"已生成 {len(written)} 张截图：{output}"))
