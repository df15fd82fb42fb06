"""``/api/contents``: Jupyter's REST contents API over the user's store in PostgreSQL.

Same verbs, models, status codes and errors as jupyter_server's ``/api/contents``, plus its
checkpoints. Sessions (the site's own pages) and bearer tokens with scope ``notebooks`` (a
user's server) reach the caller's own files only.
"""

from urllib.parse import quote

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from oauth2_provider.contrib.rest_framework import IsAuthenticatedOrTokenHasScope
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quantsite.api import gzip_json_response
from quantsite.permissions import TokenHasUser
from quantsite.schema import AutoSchema
from research.api import contents_models
from research.exceptions import InvalidModel
from research.selectors.notebooks import checkpoint_list
from research.services.checkpoints import checkpoint_create, checkpoint_delete, checkpoint_restore
from research.services.notebooks import entry_delete, entry_rename

BOOL = {"0": False, "1": True, "false": False, "true": True}


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() not in BOOL:
        raise InvalidModel(f"{name} must be 0 or 1")
    return BOOL[value.lower()]


def _location(path: str) -> str:
    return f"/api/contents/{quote(path)}"


class ContentsModelSerializer(serializers.Serializer):
    """Jupyter's contents model (documentation of the answers; ``contents_models`` builds
    them)."""

    name = serializers.CharField()
    path = serializers.CharField()
    type = serializers.ChoiceField(choices=["directory", "file", "notebook"])
    format = serializers.ChoiceField(choices=["json", "text", "base64"], allow_null=True)
    mimetype = serializers.CharField(allow_null=True)
    content = serializers.JSONField(
        allow_null=True,
        help_text="Null unless asked for: a notebook's JSON, a file's text or base64, or a "
        "directory's list of models (without content).",
    )
    created = serializers.DateTimeField()
    last_modified = serializers.DateTimeField()
    size = serializers.IntegerField(allow_null=True)
    writable = serializers.BooleanField()
    hash = serializers.CharField(allow_null=True)
    hash_algorithm = serializers.CharField(allow_null=True)

    class Meta:
        component_name = "ContentsModel"


class ContentsInputSerializer(serializers.Serializer):
    """What a save, upload, new file or copy sends (documentation; ``contents_models`` checks
    every field before use and answers 400 naming the one that is wrong)."""

    type = serializers.ChoiceField(choices=["directory", "file", "notebook"], required=False)
    format = serializers.ChoiceField(choices=["json", "text", "base64"], required=False)
    content = serializers.JSONField(required=False, help_text="A notebook, text or base64.")
    chunk = serializers.IntegerField(
        required=False, help_text="Large uploads: 1, 2, ... and -1 for the last chunk."
    )
    copy_from = serializers.CharField(required=False, help_text="POST: the path to copy.")
    ext = serializers.CharField(required=False, help_text="POST: the new file's extension.")

    class Meta:
        component_name = "ContentsInput"


class RenameSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="The new path.")

    class Meta:
        component_name = "ContentsRename"


class CheckpointSerializer(serializers.Serializer):
    id = serializers.CharField()
    last_modified = serializers.DateTimeField()

    class Meta:
        component_name = "Checkpoint"


class ContentsAutoSchema(AutoSchema):
    """Operation ids that tell the root (``/api/contents``) from a path, and a checkpoint from
    the checkpoint list."""

    def get_operation_id(self) -> str:
        if self.path == "/api/contents":
            return f"contents_root_{self.method.lower()}"
        if self.path.endswith("{checkpoint_id}"):
            return f"contents_checkpoint_{'restore' if self.method == 'POST' else 'destroy'}"
        return super().get_operation_id()


class ContentsApiBase(APIView):
    schema = ContentsAutoSchema()
    permission_classes = [IsAuthenticatedOrTokenHasScope, TokenHasUser]
    required_scopes = ["notebooks"]
    # Hubs gzip large saves; the parser inflates them once the caller is authenticated.
    request_encodings = ("gzip",)

    # The largest save: a file at the size limit, base64 inside JSON, with room for the model.
    @property
    def max_body_bytes(self) -> int:
        return settings.NOTEBOOK_MAX_BODY_BYTES

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return gzip_json_response(request, response)


class ContentsApi(ContentsApiBase):
    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=["directory", "file", "notebook"]),
            OpenApiParameter("format", str, enum=["text", "base64"]),
            OpenApiParameter("content", int, enum=[0, 1]),
            OpenApiParameter("hash", int, enum=[0, 1]),
            OpenApiParameter("hidden", int, enum=[0, 1], description="List hidden entries."),
        ],
        responses={200: ContentsModelSerializer},
        summary="Get a file, notebook or directory",
    )
    def get(self, request: Request, path: str = "") -> Response:
        model = contents_models.model_get(
            user=request.user,
            path=path or "",
            content=_flag(request, "content", True),
            type=request.query_params.get("type") or None,
            format=request.query_params.get("format") or None,
            require_hash=_flag(request, "hash", False),
            include_hidden=_flag(request, "hidden", False),
        )
        return Response(model)

    @extend_schema(
        request=ContentsInputSerializer,
        responses={200: ContentsModelSerializer, 201: ContentsModelSerializer},
        summary="Save or upload",
    )
    def put(self, request: Request, path: str = "") -> Response:
        if not isinstance(request.data, dict) or not request.data:
            raise InvalidModel("The body must be a contents model.")
        model, created = contents_models.model_save(
            user=request.user, path=path or "", model=request.data
        )
        return Response(
            model, status=201 if created else 200, headers={"Location": _location(model["path"])}
        )

    @extend_schema(
        request=ContentsInputSerializer,
        responses={201: ContentsModelSerializer},
        summary="New untitled file/notebook/directory, or a copy",
    )
    def post(self, request: Request, path: str = "") -> Response:
        body = request.data if request.data else {}
        model = contents_models.model_new(user=request.user, path=path or "", model=body)
        return Response(model, status=201, headers={"Location": _location(model["path"])})

    @extend_schema(
        request=RenameSerializer, responses={200: ContentsModelSerializer}, summary="Rename or move"
    )
    def patch(self, request: Request, path: str = "") -> Response:
        if not isinstance(request.data, dict) or "path" not in request.data:
            raise InvalidModel('A rename needs {"path": new path}.')
        entry = entry_rename(user=request.user, old_path=path or "", new_path=request.data["path"])
        return Response(
            contents_models.saved_model(entry), headers={"Location": _location(entry.path)}
        )

    @extend_schema(responses={204: None}, summary="Delete")
    def delete(self, request: Request, path: str = "") -> Response:
        entry_delete(
            user=request.user, path=path or "", recursive=_flag(request, "recursive", True)
        )
        return Response(status=204)


class CheckpointsApi(ContentsApiBase):
    @extend_schema(
        responses={200: CheckpointSerializer(many=True)}, summary="List a file's checkpoints"
    )
    def get(self, request: Request, path: str) -> Response:
        checkpoints = checkpoint_list(user=request.user, path=path)
        return Response([contents_models.checkpoint_model(c) for c in checkpoints])

    @extend_schema(
        request=None,
        responses={201: CheckpointSerializer},
        summary="Checkpoint the current version",
    )
    def post(self, request: Request, path: str) -> Response:
        checkpoint = checkpoint_create(user=request.user, path=path)
        return Response(contents_models.checkpoint_model(checkpoint), status=201)


class CheckpointApi(ContentsApiBase):
    @extend_schema(request=None, responses={204: None}, summary="Restore a checkpoint")
    def post(self, request: Request, path: str, checkpoint_id: str) -> Response:
        checkpoint_restore(user=request.user, path=path or "", checkpoint_id=checkpoint_id)
        return Response(status=204)

    @extend_schema(responses={204: None}, summary="Delete a checkpoint")
    def delete(self, request: Request, path: str, checkpoint_id: str) -> Response:
        checkpoint_delete(user=request.user, path=path or "", checkpoint_id=checkpoint_id)
        return Response(status=204)
