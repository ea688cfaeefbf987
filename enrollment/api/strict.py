"""Strict reading of API input: what the API cannot read is refused with 400 (or 413), never ignored or a 500.

A misspelt filter silently ignored returns the whole list, which a client then
takes for the filtered answer; a body the parser chokes on must not reach the
view. Every refusal goes through the shared exception handler, so it has the
API's JSON error shape and names the parameter at fault.
"""

import json
import re

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail, ParseError
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser

# Deeper than any document the API defines; deeper nesting is refused before
# the serializers walk it recursively.
MAX_JSON_DEPTH = 64
MAX_PAGE_SIZE = 500
# Query parameters every list and detail view understands besides its filters.
COMMON_QUERY_PARAMETERS = frozenset({"page", "page_size", "format", "full", "ordering"})


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("请求内容过大。")
    default_code = "too_large"


def payload_too_large() -> PayloadTooLarge:
    limit_mb = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) / (1024 * 1024)
    return PayloadTooLarge(_("请求内容超过 %(limit).0f MB 的上限。") % {"limit": limit_mb})


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(value) -> bool:
    """Whether containers nest deeper than MAX_JSON_DEPTH, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class StrictJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE, valid UTF-8, standard JSON only (no NaN or Infinity)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        if request is not None and limit is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise payload_too_large()
        # Read one byte past the limit: a body without a (truthful) length is caught too.
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise payload_too_large()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(_("请求内容不是有效的 %(encoding)s 文本。") % {"encoding": encoding.upper()}) from exc
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise ParseError(_("JSON 嵌套层数过多。")) from exc
        except ValueError as exc:
            raise ParseError(_("JSON 格式错误：%(error)s") % {"error": str(exc)[:200]}) from exc
        if _too_deep(data):
            raise ParseError(_("JSON 嵌套层数过多。"))
        return data


def _field_error(name: str, message: str, code: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({name: [ErrorDetail(message, code=code)]})


class StrictPageNumberPagination(PageNumberPagination):
    """Page numbers as DRF's, with ``page_size`` 1..500; anything else is a 400 naming the parameter."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = gettext_lazy("每页条数，1 到 500。")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= self.max_page_size:
            raise _field_error(
                self.page_size_query_param,
                _("page_size 必须是 1 到 %(max)d 之间的整数。") % {"max": self.max_page_size},
                "invalid",
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings and not re.fullmatch(r"[1-9][0-9]{0,8}", raw):
            raise _field_error(self.page_query_param, _("page 必须是正整数。"), "invalid")
        return super().paginate_queryset(queryset, request, view)


class StrictQueryParametersBackend(BaseFilterBackend):
    """Refuses query parameters the view does not understand, and orderings it does not offer.

    Known: the view's filterset fields, the common parameters and the view's
    own ``extra_query_parameters``. Filter values themselves are checked by
    django-filter's backend, which follows (and answers 400 for invalid ones).
    Put first in DEFAULT_FILTER_BACKENDS.
    """

    def known_parameters(self, request, queryset, view) -> set[str]:
        known = set(COMMON_QUERY_PARAMETERS) | set(getattr(view, "extra_query_parameters", ()))
        filterset_class = DjangoFilterBackend().get_filterset_class(view, queryset)
        if filterset_class is not None:
            for name, filter_ in filterset_class.base_filters.items():
                known.add(name)
                # Range-like filters read name_min/name_max (or _after/_before) from the query.
                for suffix in getattr(filter_.field_class.widget, "suffixes", None) or ():
                    known.add(f"{name}_{suffix}" if suffix else name)
        return known

    def filter_queryset(self, request, queryset, view):
        unknown = sorted(set(request.query_params) - self.known_parameters(request, queryset, view))
        if unknown:
            raise exceptions.ValidationError(
                {
                    name: [ErrorDetail(_("不支持的查询参数“%(name)s”。") % {"name": name[:50]}, code="unknown_parameter")]
                    for name in unknown[:20]
                }
            )
        self.check_ordering(request, queryset, view)
        return queryset

    def check_ordering(self, request, queryset, view) -> None:
        raw = request.query_params.get("ordering")
        if raw is None:
            return
        ordering = OrderingFilter()
        valid = {name for name, _label in ordering.get_valid_fields(queryset, view, {"request": request})}
        wrong = [term.strip() for term in raw.split(",") if term.strip().lstrip("-") not in valid]
        if wrong:
            raise _field_error(
                "ordering",
                _("不能按“%(terms)s”排序，可用：%(valid)s。") % {"terms": ", ".join(wrong)[:100], "valid": ", ".join(sorted(valid))},
                "invalid",
            )

    def get_schema_operation_parameters(self, view):
        return []
