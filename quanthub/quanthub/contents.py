"""Notebooks live on the site: a jupyter_server ContentsManager over the site's contents API.

``QuantsiteContentsManager`` is a drop-in replacement for jupyter_server's default manager
(PGContents' idea, with the database behind the site's API): the same models, errors and
behaviour for JupyterLab, one HTTP round trip per operation where possible, a pooled
keep-alive connection, and gzip both ways for large bodies when the link is slow enough to
want it (``compress_min_bytes``). Its credential is the user's
server token (scope ``notebooks``), which reaches that user's files only.

Notebooks move as their files' bytes (the site's ``application/x-ipynb+json``): a save sends
what Jupyter's file manager would write to disk, a read gets the stored bytes back, and the
nbformat work (serializing, parsing, validating, trust) is done here once, as Jupyter's file
manager does it; the site checks a notebook's shape and stores its bytes as they are.

Optionally (like PGContents' HybridContentsManager) a directory of the hub's disk is mounted
read-only at ``readonly_mount`` (``QUANTHUB_READONLY_DIR`` at ``QUANTHUB_READONLY_MOUNT``), for
example shared example notebooks.
"""

import json
import os
from urllib.parse import quote

import nbformat
from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado import web
from traitlets import Bool, Float, Instance, Integer, Unicode, default

from quanthub.client import ServerCredential
from quanthub.contents_api import ContentsClient, dates

# A notebook as its file, and the header in which the site gives the file's model with it.
NOTEBOOK_MEDIA_TYPE = "application/x-ipynb+json"
MODEL_HEADER = "Contents-Model"


def notebook_file(nb: nbformat.NotebookNode, validation_error: dict) -> bytes:
    """The bytes Jupyter's file manager writes for ``nb`` (``nbformat.write`` with
    ``NO_CONVERT``: its JSON, then a newline), validated once on the way (a failure recorded in
    ``validation_error``, as the file manager records it). 400 if it is no notebook nbformat
    can write, or its text cannot be UTF-8 (a lone surrogate)."""
    try:
        text = nbformat.writes(
            nb, version=nbformat.NO_CONVERT, capture_validation_error=validation_error
        )
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:
        raise web.HTTPError(400, f"Not a notebook: {error}") from None
    if not text.endswith("\n"):
        text += "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise web.HTTPError(400, "The notebook contains a lone surrogate (not text).") from None


class QuantsiteCheckpoints(AsyncCheckpoints):
    """Checkpoints kept by the site: many per file; they move and go with their file there."""

    contents_manager = Instance("quanthub.contents.QuantsiteContentsManager", allow_none=True)

    def _client(self, contents_mgr=None) -> ContentsClient:
        return (contents_mgr or self.parent).site

    async def create_checkpoint(self, contents_mgr, path):
        client = self._client(contents_mgr)
        return dates(await client.request("POST", client.url(path, "checkpoints")))

    async def restore_checkpoint(self, contents_mgr, checkpoint_id, path):
        client = self._client(contents_mgr)
        await client.request("POST", client.url(path, "checkpoints", quote(str(checkpoint_id))))

    async def list_checkpoints(self, path):
        client = self._client()
        return [dates(c) for c in await client.request("GET", client.url(path, "checkpoints"))]

    async def delete_checkpoint(self, checkpoint_id, path):
        client = self._client()
        await client.request("DELETE", client.url(path, "checkpoints", quote(str(checkpoint_id))))

    async def rename_checkpoint(self, checkpoint_id, old_path, new_path):
        """Nothing to do: the site moves checkpoints with their file, in the same transaction."""

    async def rename_all_checkpoints(self, old_path, new_path):
        """Nothing to do: the site moves checkpoints with their file, in the same transaction."""

    async def delete_all_checkpoints(self, path):
        """Nothing to do: deleting a file on the site deletes its checkpoints with it."""


class QuantsiteContentsManager(AsyncContentsManager):
    """jupyter_server's ContentsManager over the site's ``/api/contents``."""

    site_url = Unicode(config=True, help="The site's base URL (QUANTHUB_SITE_URL).")
    api_token = Unicode(
        config=True, help="This server's credential, scope notebooks (QUANTHUB_CONTENTS_TOKEN)."
    )
    credential_url = Unicode(
        config=True,
        help="Where this server renews its credential when the site refuses it: the hub's "
        "discovery service (QUANTHUB_CREDENTIAL_URL). Unset: a refused credential is final.",
    )
    hub_api_token = Unicode(
        config=True,
        help="This server's JupyterHub token, which the discovery service asks for a renewal "
        "(JUPYTERHUB_API_TOKEN).",
    )
    request_timeout = Float(120.0, config=True, help="Seconds before a call to the site fails.")
    compress_min_bytes = Integer(
        0,
        config=True,
        help="Gzip request bodies from this size on, and ask for gzipped answers "
        "(QUANTHUB_CONTENTS_COMPRESS_MIN_BYTES). 0, the default, sends and asks plain: between "
        "a hub and the site on one network, gzipping megabytes of base64 images cost more "
        "than it saved (a 10 MB save+get took 1.56 s gzipped, 0.57 s plain; bench/RESULTS.md). "
        "Set it (e.g. 65536) when hubs reach the site over a slow link.",
    )
    hash_algorithm = Unicode("sha256", help="The site hashes contents with SHA-256.")
    always_delete_dir = Bool(
        True,
        config=True,
        help="Delete a directory with everything in it (there is no trash on the site).",
    )
    delete_to_trash = Bool(
        False,
        config=True,
        help="Kept for compatibility with Jupyter's file manager: with this and "
        "always_delete_dir both off, deleting a non-empty directory is refused.",
    )
    readonly_dir = Unicode(
        config=True, help="A directory of this machine mounted read-only (QUANTHUB_READONLY_DIR)."
    )
    readonly_mount = Unicode(
        "examples",
        config=True,
        help="Where the read-only directory appears (QUANTHUB_READONLY_MOUNT).",
    )

    @default("site_url")
    def _site_url_default(self):
        return os.environ.get("QUANTHUB_SITE_URL", "")

    @default("api_token")
    def _api_token_default(self):
        return os.environ.get("QUANTHUB_CONTENTS_TOKEN", "")

    @default("credential_url")
    def _credential_url_default(self):
        return os.environ.get("QUANTHUB_CREDENTIAL_URL", "")

    @default("hub_api_token")
    def _hub_api_token_default(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("compress_min_bytes")
    def _compress_default(self):
        return int(os.environ.get("QUANTHUB_CONTENTS_COMPRESS_MIN_BYTES", "0"))

    @default("readonly_dir")
    def _readonly_dir_default(self):
        return os.environ.get("QUANTHUB_READONLY_DIR", "")

    @default("readonly_mount")
    def _readonly_mount_default(self):
        return os.environ.get("QUANTHUB_READONLY_MOUNT", "examples").strip("/") or "examples"

    @default("checkpoints_class")
    def _checkpoints_class_default(self):
        return QuantsiteCheckpoints

    @property
    def credential(self) -> ServerCredential:
        """This server's site credential, made once; the share extension uses it too, so a
        renewal by either serves both."""
        if getattr(self, "_credential", None) is None:
            self._credential = ServerCredential(
                self.api_token, renew_url=self.credential_url, hub_token=self.hub_api_token
            )
        return self._credential

    @property
    def site(self) -> ContentsClient:
        if getattr(self, "_site", None) is None:
            if not self.site_url:
                raise web.HTTPError(500, "QuantsiteContentsManager needs QUANTHUB_SITE_URL")
            self._site = ContentsClient(
                self.site_url, self.credential, self.request_timeout, self.compress_min_bytes
            )
        return self._site

    # -- the read-only mount -----------------------------------------------------------------

    @property
    def _readonly(self) -> AsyncFileContentsManager | None:
        if not self.readonly_dir:
            return None
        if getattr(self, "_readonly_manager", None) is None:
            self._readonly_manager = AsyncFileContentsManager(
                root_dir=self.readonly_dir, parent=self, checkpoints_class=AsyncCheckpoints
            )
        return self._readonly_manager

    def _mounted(self, path: str) -> str | None:
        """The path inside the read-only mount, or None if ``path`` is not under it."""
        path = path.strip("/")
        if self._readonly is None:
            return None
        mount = self.readonly_mount
        if path == mount:
            return ""
        if path.startswith(mount + "/"):
            return path[len(mount) + 1 :]
        return None

    def _refuse_readonly(self, *paths: str) -> None:
        if any(self._mounted(p) is not None for p in paths):
            raise web.HTTPError(403, f"{self.readonly_mount}/ is read-only")

    def _rebase(self, model: dict) -> dict:
        model["path"] = "/".join(p for p in (self.readonly_mount, model["path"]) if p)
        model["writable"] = False
        if model.get("name") == "" or model["path"] == self.readonly_mount:
            model["name"] = self.readonly_mount
        if model.get("type") == "directory" and isinstance(model.get("content"), list):
            for child in model["content"]:
                self._rebase(child)
        return model

    # -- reading -----------------------------------------------------------------------------

    def is_hidden(self, path):
        return any(part.startswith(".") for part in path.strip("/").split("/") if part)

    async def _model(self, path: str, **params):
        client = self.site
        try:
            return await client.request("GET", client.url(path), params=params)
        except web.HTTPError as error:
            if error.status_code == 404:
                return None
            raise

    async def file_exists(self, path=""):
        inner = self._mounted(path)
        if inner is not None:
            return await self._readonly.file_exists(inner)
        model = await self._model(path, content="0")
        return model is not None and model["type"] != "directory"

    async def dir_exists(self, path):
        if not path.strip("/"):
            return True
        inner = self._mounted(path)
        if inner is not None:
            return await self._readonly.dir_exists(inner)
        model = await self._model(path, content="0")
        return model is not None and model["type"] == "directory"

    async def exists(self, path):
        if not path.strip("/"):
            return True
        inner = self._mounted(path)
        if inner is not None:
            return await self._readonly.exists(inner)
        return await self._model(path, content="0") is not None

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        path = path.strip("/")
        inner = self._mounted(path)
        if inner is not None:
            model = await self._readonly.get(
                inner, content=content, type=type, format=format, require_hash=require_hash
            )
            return self._rebase(model)
        params = {"content": "1" if content else "0"}
        if type:
            params["type"] = type
        if format:
            params["format"] = format
        if require_hash:
            params["hash"] = "1"
        if self.allow_hidden:
            params["hidden"] = "1"
        client = self.site
        if content and (type == "notebook" or (type is None and path.endswith(".ipynb"))):
            model = await self._notebook_file_get(path, params)
        else:
            model = dates(await client.request("GET", client.url(path), params=params))
        if path == "" and self._readonly is not None and content:
            mount = await self._readonly.get("", content=False)
            model["content"].append(self._rebase(mount))
        self.emit(data={"action": "get", "path": path})
        return model

    async def _notebook_file_get(self, path: str, params: dict) -> dict:
        """The notebook at ``path`` read as its file: the site answers the stored bytes (its
        model in ``MODEL_HEADER``), read here as Jupyter's file manager reads a notebook on
        disk (``nbformat.reads`` to version 4, validated once, cells' trust marked). Where
        there is no notebook file to give (a directory named .ipynb, say), and from a site one
        release behind, the answer is the JSON model, read as such."""
        accept = f"{NOTEBOOK_MEDIA_TYPE}, application/json"
        client = self.site
        response = await client.send(
            "GET", client.url(path), params=params, headers={"Accept": accept}
        )
        if not response.headers.get("Content-Type", "").startswith(NOTEBOOK_MEDIA_TYPE):
            model = dates(response.json())
            if model["type"] == "notebook":  # a JSON model all the same: read it as one
                nb = nbformat.from_dict(model["content"])
                self.mark_trusted_cells(nb, path)
                model["content"] = nb
                self._validate(model)
            return model
        model = dates(json.loads(response.headers[MODEL_HEADER]))
        validation_error: dict = {}
        try:
            nb = nbformat.reads(
                response.content, as_version=4, capture_validation_error=validation_error
            )
        except Exception as error:  # whatever nbformat raises, as Jupyter's manager catches
            raise web.HTTPError(400, f"Unreadable Notebook: {path} {error!r}") from None
        self.mark_trusted_cells(nb, path)
        model["content"], model["format"] = nb, "json"
        self.validate_notebook_model(model, validation_error)
        return model

    def _validate(self, model: dict) -> None:
        """Validate once, as Jupyter's file manager does on read and write; a failure becomes
        the model's "message" (the notebook is still served and saved, as in Jupyter)."""
        validation_error = {}
        try:
            nbformat.validate(model["content"])
        except nbformat.ValidationError as error:
            validation_error["ValidationError"] = error
        self.validate_notebook_model(model, validation_error)

    # -- writing -----------------------------------------------------------------------------

    async def save(self, model, path=""):
        path = path.strip("/")
        self._refuse_readonly(path)
        self.run_pre_save_hooks(model=model, path=path)
        if "type" not in model:
            raise web.HTTPError(400, "No file type provided")
        if "content" not in model and model["type"] != "directory":
            raise web.HTTPError(400, "No file content provided")
        body = {k: v for k, v in model.items() if k in ("type", "format", "content", "chunk")}
        client = self.site
        if model["type"] == "notebook" and model.get("chunk") is None:
            nb = nbformat.from_dict(model["content"])
            self.check_and_sign(nb, path)
            validation_error: dict = {}
            saved = await self._notebook_file_put(path, notebook_file(nb, validation_error))
            if saved is None:  # a site one release behind: the JSON model
                body["content"] = nb
                saved = await client.request("PUT", client.url(path), body=body)
            saved = dates(saved)
            self.validate_notebook_model(model, validation_error)
        elif model["type"] == "notebook":  # a chunk of an upload: JSON, as JupyterLab sent it
            nb = nbformat.from_dict(model["content"])
            self.check_and_sign(nb, path)
            body["content"] = nb
            saved = dates(await client.request("PUT", client.url(path), body=body))
            self._validate(model)
        else:
            saved = dates(await client.request("PUT", client.url(path), body=body))
        if model["type"] == "notebook" and model.get("message"):
            saved["message"] = model["message"]
        self.run_post_save_hooks(model=saved, os_path=path)
        self.emit(data={"action": "save", "path": path})
        return saved

    async def _notebook_file_put(self, path: str, data: bytes) -> dict | None:
        """Save ``data`` (a notebook file's bytes) at ``path``: the site's model of it, or None
        from a site one release behind, which does not take notebook files (415): the caller
        then saves the JSON model, as before."""
        client = self.site
        try:
            response = await client.send(
                "PUT", client.url(path), content=data, headers={"Content-Type": NOTEBOOK_MEDIA_TYPE}
            )
        except web.HTTPError as error:
            if error.status_code == 415:
                return None
            raise
        return response.json()

    async def new_untitled(self, path="", type="", ext=""):
        """One round trip: the site picks the free name ("Untitled1.ipynb", ...)."""
        path = path.strip("/")
        self._refuse_readonly(path)
        if not await self.dir_exists(path):
            raise web.HTTPError(404, f"No such directory: {path}")
        if not type:
            type = "notebook" if ext == ".ipynb" else "file"
        if type == "notebook" and not ext:
            ext = ".ipynb"
        client = self.site
        return dates(
            await client.request("POST", client.url(path), body={"type": type, "ext": ext})
        )

    async def copy(self, from_path, to_path=None):
        """One round trip: the site copies the file, or the directory tree, as Jupyter's file
        manager does (into a directory as "name-Copy1.ext"; else to the path given)."""
        from_path = from_path.strip("/")
        if to_path is None:
            to_path = from_path.rpartition("/")[0]
        to_path = to_path.strip("/")
        self._refuse_readonly(to_path)
        if self._mounted(from_path) is not None:
            return await super().copy(from_path, to_path)  # out of the read-only mount
        client = self.site
        model = dates(
            await client.request("POST", client.url(to_path), body={"copy_from": from_path})
        )
        self.emit(data={"action": "copy", "path": model["path"], "source_path": from_path})
        return model

    async def delete_file(self, path):
        self._refuse_readonly(path)
        client = self.site
        recursive = self.always_delete_dir or self.delete_to_trash
        await client.request(
            "DELETE", client.url(path), params=None if recursive else {"recursive": "0"}
        )

    async def rename_file(self, old_path, new_path):
        self._refuse_readonly(old_path, new_path)
        client = self.site
        await client.request("PATCH", client.url(old_path), body={"path": new_path.strip("/")})

    async def delete(self, path):
        path = path.strip("/")
        if not path:
            raise web.HTTPError(400, "Can't delete root")
        await self.delete_file(path)
        self.emit(data={"action": "delete", "path": path})

    async def rename(self, old_path, new_path):
        await self.rename_file(old_path.strip("/"), new_path.strip("/"))
        self.emit(data={"action": "rename", "path": new_path, "source_path": old_path})
