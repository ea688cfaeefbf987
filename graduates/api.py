"""The school-roll systems post graduate feeds here, with a token that can do nothing else."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from enrollment.api.base import ErrorSerializer, error_response
from enrollment.api.strict import StrictJSONParser
from enrollment.querysets import membership_of
from graduates.models import GraduateFeed
from graduates.parsing import FIELDS, FeedRefused, column_label
from graduates.services import feed_receive


class IsGraduateFeedSystem(permissions.BasePermission):
    """Only an account of role ``system`` with the ``graduate_feeds`` grant, nothing broader.

    Staff and superusers are refused too: the endpoint is the machines' door;
    people upload feeds in the admin, where their own scoping applies.
    """

    message = _("仅限学籍管理系统账户报送毕业生数据。")

    def has_permission(self, request, view):
        user = request.user
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        membership = membership_of(user)
        return (
            membership is not None
            and membership.role == "system"
            and membership.system_scope == "graduate_feeds"
            and membership.school_id is None
            and membership.office_id is None
        )


class FeedRecordSerializer(serializers.Serializer):
    identity_number = serializers.CharField()
    name = serializers.CharField()
    school_code = serializers.CharField()
    graduation_date = serializers.DateField()
    class_name = serializers.CharField(required=False, allow_blank=True)


class FeedRecordsRequestSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=GraduateFeed._meta.get_field("source").choices)
    records = FeedRecordSerializer(many=True)


class FeedFileRequestSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=GraduateFeed._meta.get_field("source").choices)
    file = serializers.FileField(help_text=".xlsx or .csv")


class FeedReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["received", "already_received"])
    record_count = serializers.IntegerField()
    message = serializers.CharField()


def _field_of(column: str) -> str | None:
    """The record field a feed error is about (its column heading names it in Chinese), or None for the whole feed."""
    by_label = {column_label(field): field for field in FIELDS}
    return by_label.get(column, column or None)


class GraduateFeedCreate(APIView):
    """POST a feed: a multipart ``file`` (.xlsx/.csv) or JSON ``{"source": ..., "records": [...]}``."""

    permission_classes = [IsGraduateFeedSystem]
    parser_classes = [StrictJSONParser, parsers.MultiPartParser]

    @extend_schema(
        request={"application/json": FeedRecordsRequestSerializer, "multipart/form-data": FeedFileRequestSerializer},
        responses={201: FeedReceiptSerializer, 200: FeedReceiptSerializer, 400: ErrorSerializer},
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            return error_response(
                code="invalid_body", message=_("请求内容必须是 JSON 对象：{\"source\": ..., \"records\": [...]}。")
            )
        source = request.data.get("source", "")
        upload = request.FILES.get("file")
        try:
            if upload is not None:
                receipt = feed_receive(
                    source=source, via=GraduateFeed.Via.API, content=upload.read(), file_name=upload.name, user=request.user
                )
            else:
                receipt = feed_receive(
                    source=source, via=GraduateFeed.Via.API, records=request.data.get("records"), user=request.user
                )
        except FeedRefused as refused:
            return Response(
                {
                    "code": "feed_refused",
                    "message": refused.messages[0],
                    "field": None,
                    # The API's error item (code, field, message), with the row and column of the feed.
                    "errors": [{"code": "invalid", "field": _field_of(e.column), **e.as_dict()} for e in refused.errors],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        body = {
            "id": receipt.feed.pk,
            "status": "received" if receipt.created else "already_received",
            "record_count": receipt.feed.record_count,
            "message": receipt.message,
        }
        return Response(body, status=status.HTTP_201_CREATED if receipt.created else status.HTTP_200_OK)

