from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from oauth2_provider.contrib.rest_framework import IsAuthenticatedOrTokenHasScope
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from community.selectors import shared_post_for_path
from community.services.forum import MAX_TAGS, tag_names_clean
from community.services.sharing import shared_notebook_share
from quantsite.api import validated
from quantsite.permissions import TokenHasUser
from quantsite.schema import ErrorSerializer
from research.paths import path_normalize


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ShowcaseCellField(serializers.Field):
    """A cell index (int) or a cell id (str)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            raise serializers.ValidationError("A cell index or a cell id.")
        if isinstance(data, str) and not 1 <= len(data) <= 64:
            raise serializers.ValidationError("A cell id is 1 to 64 characters.")
        return data

    def to_representation(self, value):
        return value


class ShareApi(APIView):
    """Share a notebook of the caller's store to the community (a new version on re-share);
    read back the caller's post for a path (what JupyterLab's Share dialog starts from)."""

    permission_classes = [IsAuthenticatedOrTokenHasScope, TokenHasUser]
    required_scopes = ["notebooks"]
    # Gzip bodies are inflated by the parser, after authentication (quantsite.api.JSONParser).
    request_encodings = ("gzip",)

    class ShareInputSerializer(serializers.Serializer):
        path = serializers.CharField(max_length=1024)
        title = serializers.CharField(max_length=200)
        description = serializers.CharField(
            max_length=20_000,
            allow_blank=True,
            required=False,
            help_text="The post's Markdown text; left as it is if absent (empty on a first share).",
        )
        showcase_cell = ShowcaseCellField(
            required=False,
            help_text="A cell index or id; by default the cell JupyterLab marked, else the first.",
        )
        tags = serializers.ListField(
            child=serializers.CharField(max_length=32),
            max_length=MAX_TAGS,
            required=False,
            help_text="Replace the topic's tags; left as they are if absent.",
        )

        def validate_tags(self, value):
            try:
                return tag_names_clean(value)
            except ValueError as error:
                raise serializers.ValidationError(str(error)) from None

    class ShareOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        version = serializers.IntegerField()
        url = serializers.CharField()

    class SharedPostQuerySerializer(serializers.Serializer):
        path = serializers.CharField(
            max_length=1024, help_text="The store path the notebook was shared from."
        )

    class SharedPostOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(help_text="The shared notebook's id.")
        title = serializers.CharField()
        description = serializers.CharField(allow_blank=True, help_text="Markdown, as written.")
        tags = serializers.ListField(child=serializers.CharField())
        url = serializers.CharField()
        version = serializers.IntegerField(help_text="The newest version's number.")

    @extend_schema(
        parameters=[SharedPostQuerySerializer],
        responses={
            200: SharedPostOutputSerializer,
            404: OpenApiResponse(
                ErrorSerializer, description="The caller shared no notebook from this path."
            ),
        },
        summary="The caller's post for a shared path",
        description="The post the caller made by sharing their notebook at `path` (what "
        "JupyterLab's Share dialog starts from); 404 if they shared none from it, or the "
        "moderators hid its topic.",
    )
    def get(self, request: Request) -> Response:
        data = validated(self.SharedPostQuerySerializer, request.query_params)
        post = shared_post_for_path(author=request.user, path=path_normalize(data["path"]))
        if post is None:
            raise NotFound("You have not shared a notebook from this path.")
        topic = post.topic
        return Response(
            {
                "id": topic.shared_notebook_id,
                "title": topic.title,
                "description": topic.body,
                "tags": post.tag_names,
                "url": f"/community/topics/{topic.pk}",
                "version": post.version,
            }
        )

    @extend_schema(
        request=ShareInputSerializer,
        responses={201: ShareOutputSerializer},
        summary="Share a notebook",
    )
    def post(self, request: Request) -> Response:
        data = validated(self.ShareInputSerializer, request.data)
        version = shared_notebook_share(
            user=request.user,
            path=data["path"],
            title=data["title"],
            description=data.get("description"),
            showcase_cell=data.get("showcase_cell"),
            tags=data.get("tags"),
        )
        topic = version.shared.topic
        return Response(
            {
                "id": version.shared_id,
                "version": version.number,
                "url": f"/community/topics/{topic.pk}",
            },
            status=201,
        )
