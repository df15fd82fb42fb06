"""quanthub's own tests: the manager moves notebooks as their files' bytes
(application/x-ipynb+json) and does the nbformat work once, on its side, as Jupyter's file
manager does; so what the site stores is what FileContentsManager writes to disk, and what a
read gives is what FileContentsManager's read gives (same session as the upstream tests: they
need the running site)."""

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from tornado import web

IPYNB = "application/x-ipynb+json"


def _notebook() -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell(
        "print('é')",
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="é\n")],
        execution_count=1,
    )
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Tïtle"), code])


@pytest.fixture
def disk(tmp_path):
    return AsyncFileContentsManager(root_dir=str(tmp_path))


def _stored(site_user, path: str) -> bytes:
    from research.selectors.notebooks import file_read

    return file_read(user=site_user[0], path=path)[1]


def _record_requests(manager) -> list:
    seen = []

    async def record(request):
        seen.append((request.method, request.headers.get("content-type"), request.headers))

    manager.site.http.event_hooks["request"].append(record)
    return seen


async def test_a_save_sends_and_the_site_stores_what_the_file_manager_writes(
    quantsite_manager, disk, site_user, tmp_path
):
    seen = _record_requests(quantsite_manager)
    model = {"type": "notebook", "format": "json", "content": _notebook()}

    saved = await quantsite_manager.save(model, "n.ipynb")
    await disk.save(model, "n.ipynb")

    written = (tmp_path / "n.ipynb").read_bytes()
    assert _stored(site_user, "n.ipynb") == written
    assert [(method, kind) for method, kind, _ in seen] == [("PUT", IPYNB)]
    assert saved["type"] == "notebook"
    assert saved["size"] == len(written)
    assert saved["content"] is None


async def test_a_read_gives_the_file_managers_model(quantsite_manager, disk):
    model = {"type": "notebook", "format": "json", "content": _notebook()}
    await quantsite_manager.save(model, "n.ipynb")
    await disk.save(model, "n.ipynb")
    seen = _record_requests(quantsite_manager)

    ours = await quantsite_manager.get("n.ipynb")
    theirs = await disk.get("n.ipynb")

    assert seen[0][2]["accept"].startswith(IPYNB)
    assert ours["content"] == theirs["content"]
    assert isinstance(ours["content"], nbformat.NotebookNode)
    assert ours["content"].cells[1].outputs[0].text == "é\n"
    assert ours["content"].cells[1].metadata.get("trusted") is True  # signed on save, as there
    for key in ("name", "path", "type", "format", "mimetype", "size", "writable"):
        assert ours[key] == theirs[key], key
    assert "message" not in ours


async def test_an_invalid_notebook_is_saved_and_read_with_the_file_managers_message(
    quantsite_manager, disk
):
    nb = _notebook()
    nb.cells[0]["outputs"] = []  # a markdown cell has no outputs: nbformat's schema refuses it
    model = {"type": "notebook", "format": "json", "content": nb}

    ours_saved = await quantsite_manager.save(model, "bad.ipynb")
    theirs_saved = await disk.save(model, "bad.ipynb")
    ours = await quantsite_manager.get("bad.ipynb")
    theirs = await disk.get("bad.ipynb")

    assert ours_saved["message"] == theirs_saved["message"]
    assert "Notebook validation failed" in ours_saved["message"]
    assert ours["message"] == theirs["message"]


async def test_stored_bytes_that_are_no_notebook_are_an_unreadable_notebook(
    quantsite_manager, site_user
):
    from research.services.notebooks import file_save

    file_save(user=site_user[0], path="text.ipynb", data=b"just text")

    with pytest.raises(web.HTTPError) as error:
        await quantsite_manager.get("text.ipynb")

    assert error.value.status_code == 400
    assert error.value.log_message.startswith("Unreadable Notebook: text.ipynb")


async def test_a_notebook_the_site_refuses_is_a_400_and_not_stored(quantsite_manager, site_user):
    from research.models import ContentEntry

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x")])
    nb.cells[0]["source"] = 5  # nbformat writes it (invalid); the site wants text

    with pytest.raises(web.HTTPError) as error:
        await quantsite_manager.save({"type": "notebook", "content": nb}, "old.ipynb")

    assert error.value.status_code == 400
    assert error.value.log_message == "cell 0: 'source' must be a string or a list of strings."
    assert not ContentEntry.objects.filter(user=site_user[0], path="old.ipynb").exists()


async def test_a_gzipped_save_is_stored_as_the_bytes_before_gzip(
    quantsite_manager, disk, site_user, tmp_path
):
    quantsite_manager.compress_min_bytes = 1
    seen = _record_requests(quantsite_manager)
    nb = _notebook()
    model = {"type": "notebook", "format": "json", "content": nb}

    await quantsite_manager.save(model, "z.ipynb")
    await disk.save(model, "z.ipynb")

    assert seen[0][2]["content-encoding"] == "gzip"
    assert _stored(site_user, "z.ipynb") == (tmp_path / "z.ipynb").read_bytes()
    assert (await quantsite_manager.get("z.ipynb"))["content"] == (await disk.get("z.ipynb"))[
        "content"
    ]


async def test_a_directory_named_like_a_notebook_reads_as_a_directory(quantsite_manager):
    await quantsite_manager.new_untitled(type="directory")
    await quantsite_manager.rename("Untitled Folder", "folder.ipynb")

    model = await quantsite_manager.get("folder.ipynb")

    assert model["type"] == "directory"
    assert model["content"] == []
