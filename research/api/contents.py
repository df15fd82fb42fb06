"""``/api/contents``: Jupyter's REST contents API over the user's store in PostgreSQL.

Same verbs, models, status codes and errors as jupyter_server's ``/api/contents``, plus its
checkpoints. Sessions (the site's own pages) and bearer tokens with scope ``notebooks`` (a
user's server) reach the caller's own files only.

A notebook also moves as its file's bytes, in ``application/x-ipynb+json``
(``NOTEBOOK_MEDIA_TYPE``), which quanthub's manager asks for so that neither side parses and
re-encodes a notebook the other already has as bytes: a PUT with that ``Content-Type`` saves
the body as the notebook (shape checked, stored as it is) and answers the model as a JSON
save does; a GET that accepts it answers a notebook's stored bytes, with its model (without
content) as JSON in the ``Contents-Model`` header. Everything else, including a GET of what is
not a notebook, answers the JSON model as before.
"""

import json
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from oauth2_provider.contrib.rest_framework import IsAuthenticatedOrTokenHasScope
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from quantsite.api import gzip_json_response, request_body
from quantsite.permissions import TokenHasUser
from quantsite.schema import AutoSchema
from research.api import contents_models
from research.api.contents_models import NOTEBOOK_MEDIA_TYPE
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


# The header of a notebook file's answer that carries its model (without content).
MODEL_HEADER = "Contents-Model"


def _media_type(value: str) -> str:
    return value.partition(";")[0].strip().lower()


def _accepts_notebook_file(request: Request) -> bool:
    """Does the caller's ``Accept`` name ``NOTEBOOK_MEDIA_TYPE`` (and not with ``q=0``)?"""
    for part in request.META.get("HTTP_ACCEPT", "").split(","):
        media_type, *params = part.split(";")
        if media_type.strip().lower() == NOTEBOOK_MEDIA_TYPE:
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params)
    return False


class NotebookFileParser(BaseParser):
    """A notebook file's bytes (``NOTEBOOK_MEDIA_TYPE``), given to the view as they are.

    Bounded and inflated as every API body is (``quantsite.api.request_body``: 413, 415,
    gzip). What the bytes hold is the store's to check (``notebook_file_check``)."""

    media_type = NOTEBOOK_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return request_body(stream, media_type, parser_context or {})


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
    parser_classes = [*api_settings.DEFAULT_PARSER_CLASSES, NotebookFileParser]

    def perform_content_negotiation(self, request, force=False):
        # A caller that accepts a notebook's file gets every other answer (a directory, a
        # file, an error) as JSON, whatever else its Accept says: not a 406.
        if _accepts_notebook_file(request):
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=["directory", "file", "notebook"]),
            OpenApiParameter("format", str, enum=["text", "base64"]),
            OpenApiParameter("content", int, enum=[0, 1]),
            OpenApiParameter("hash", int, enum=[0, 1]),
            OpenApiParameter("hidden", int, enum=[0, 1], description="List hidden entries."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                ContentsModelSerializer,
                description="The model. With Accept: application/x-ipynb+json, a notebook "
                "asked with its content answers its file's bytes as stored instead, with its "
                f"model (without content) as JSON in the {MODEL_HEADER} header.",
            ),
            (200, NOTEBOOK_MEDIA_TYPE): OpenApiResponse(OpenApiTypes.BINARY),
        },
        summary="Get a file, notebook or directory",
    )
    def get(self, request: Request, path: str = "") -> Response:
        if _flag(request, "content", True) and _accepts_notebook_file(request):
            found = contents_models.model_get_notebook_file(
                user=request.user,
                path=path or "",
                type=request.query_params.get("type") or None,
                format=request.query_params.get("format") or None,
                require_hash=_flag(request, "hash", False),
            )
            if found is not None:
                model, data = found
                response = HttpResponse(data, content_type=NOTEBOOK_MEDIA_TYPE)
                # ASCII JSON: a header is Latin-1 on the wire, a path may be any Unicode.
                response[MODEL_HEADER] = json.dumps(model, separators=(",", ":"))
                patch_vary_headers(response, ("Accept",))  # the same URL also answers JSON
                return response
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
        request={
            "application/json": ContentsInputSerializer,
            NOTEBOOK_MEDIA_TYPE: OpenApiTypes.BINARY,
        },
        responses={200: ContentsModelSerializer, 201: ContentsModelSerializer},
        summary="Save or upload",
        description="A contents model in JSON; or a notebook file's bytes, as Jupyter writes "
        f"them to disk, with Content-Type: {NOTEBOOK_MEDIA_TYPE} (stored as they are).",
    )
    def put(self, request: Request, path: str = "") -> Response:
        if _media_type(request.content_type) == NOTEBOOK_MEDIA_TYPE:
            data = request.data if isinstance(request.data, bytes) else b""  # b"": no body
            model, created = contents_models.model_save_notebook_file(
                user=request.user, path=path or "", data=data
            )
        elif not isinstance(request.data, dict) or not request.data:
            raise InvalidModel("The body must be a contents model.")
        else:
            model, created = contents_models.model_save(
                user=request.user, path=path or "", model=request.data
            )
        return Response(
            model, status=201 if created else 200, headers={"Location": _location(model["path"])}
        )

    @extend_schema(
        request={"application/json": ContentsInputSerializer},
        responses={201: ContentsModelSerializer},
        summary="New untitled file/notebook/directory, or a copy",
    )
    def post(self, request: Request, path: str = "") -> Response:
        body = request.data if request.data else {}
        model = contents_models.model_new(user=request.user, path=path or "", model=body)
        return Response(model, status=201, headers={"Location": _location(model["path"])})

    @extend_schema(
        request={"application/json": RenameSerializer},
        responses={200: ContentsModelSerializer},
        summary="Rename or move",
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
