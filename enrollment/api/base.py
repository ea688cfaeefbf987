"""Shared API behaviour: errors as JSON with a code, a message in the request's language and the field at fault."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, field=None):
    """Yield (field, code, message) from DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, key if key != "non_field_errors" else field)
    elif isinstance(detail, list):
        for item in detail:
            yield from _flatten(item, field)
    else:
        yield field, getattr(detail, "code", "invalid"), str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {k: [exceptions.ErrorDetail(str(m), code=e.code or "invalid") for e in v for m in e.messages] for k, v in exc.error_dict.items()}
        else:
            detail = [exceptions.ErrorDetail(m, code=exc.code or "invalid") for m in exc.messages]
        exc = exceptions.ValidationError(detail)
        # Rule violations (window closed, roster locked) are conflicts with the resource's state.
        if getattr(exc, "detail", None) and any(code in {"window_closed", "roster_locked", "nothing_to_confirm", "already_confirmed", "already_charged", "roster_open"} for _f, code, _m in _flatten(exc.detail)):
            exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, RequestDataTooBig):
        from enrollment.api.strict import payload_too_large

        exc = payload_too_large()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    errors = [{"code": code, "message": message, "field": field} for field, code, message in _flatten(exc.detail)]
    first = errors[0] if errors else {"code": "error", "message": "", "field": None}
    response.data = {**first, "errors": errors}
    return response


def error_response(*, code: str, message: str, field: str | None = None, http_status: int = 400) -> Response:
    return Response({"code": code, "message": message, "field": field, "errors": [{"code": code, "message": message, "field": field}]}, status=http_status)


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ErrorSerializer(ErrorItemSerializer):
    """Every error answer: the first error's code, message and field, then all of them."""

    errors = ErrorItemSerializer(many=True)
