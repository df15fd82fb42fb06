"""quanthub's own test: with compression on, saves go gzipped and answers come gzipped, and
nothing changes in what is stored or read (same session as the upstream tests: it needs the
running site)."""

import nbformat


async def test_a_gzipped_round_trip_stores_and_reads_the_same_notebook(quantsite_manager):
    manager = quantsite_manager
    manager.compress_min_bytes = 1
    seen = []

    async def record(response):
        seen.append(response.headers.get("content-encoding"))

    manager.site.http.event_hooks["response"].append(record)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("z" * 200_000)])

    await manager.save({"type": "notebook", "format": "json", "content": nb}, "zipped.ipynb")
    model = await manager.get("zipped.ipynb")

    assert model["content"]["cells"][0]["source"] == "z" * 200_000
    assert "gzip" in seen  # the large answer came compressed
