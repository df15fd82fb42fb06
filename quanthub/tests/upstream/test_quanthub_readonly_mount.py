"""quanthub's own tests of the read-only mount (a directory of the hub's disk shown at
``examples/``), in this session because they need the same running site."""

import pytest
from tornado.web import HTTPError


@pytest.fixture
def mounted(quantsite_manager, tmp_path):
    (tmp_path / "intro.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_text("day,price\n1,10\n")
    quantsite_manager.readonly_dir = str(tmp_path)
    quantsite_manager.readonly_mount = "examples"
    return quantsite_manager


async def test_the_mount_is_listed_at_the_root_and_readable(mounted):
    root = await mounted.get("")
    examples = await mounted.get("examples")
    csv = await mounted.get("examples/data/prices.csv")

    assert "examples" in [item["name"] for item in root["content"]]
    assert sorted(item["path"] for item in examples["content"]) == [
        "examples/data",
        "examples/intro.ipynb",
    ]
    assert csv["content"] == "day,price\n1,10\n"
    assert csv["writable"] is False


async def test_the_mount_cannot_be_written(mounted):
    model = {"type": "file", "format": "text", "content": "x"}

    for call in (
        mounted.save(model, "examples/new.txt"),
        mounted.delete_file("examples/intro.ipynb"),
        mounted.rename_file("examples/intro.ipynb", "examples/other.ipynb"),
    ):
        with pytest.raises(HTTPError) as error:
            await call
        assert error.value.status_code == 403


async def test_a_mounted_notebook_can_be_copied_into_the_users_space(mounted):
    copy = await mounted.copy("examples/intro.ipynb", "")

    assert copy["path"] == "intro.ipynb"
    assert (await mounted.get("intro.ipynb"))["type"] == "notebook"
