"""``/docs`` (Swagger UI) and ``/redoc`` work offline: every script, stylesheet and icon they load
is served by fixgate itself, and none is fetched from elsewhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.integration.test_api import TOKEN, serve


class _Assets(HTMLParser):
    """The URLs a page loads: script sources, stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        elif tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_nothing_from_outside(database_url: str, page: str) -> None:
    with serve(database_url, api_token=TOKEN, headers={}) as http:  # no token: the docs are open
        response = http.get(page)
        assert response.status_code == 200
        html = response.text
        assets = _Assets()
        assets.feed(html)
        assert len(assets.urls) >= 2, html  # the UI's script and its stylesheet or icon at least
        base = str(http.base_url)
        for url in assets.urls:
            absolute = urljoin(base + page, url)
            assert urlsplit(absolute).netloc == urlsplit(base).netloc, f"{page} loads {url} from elsewhere"
            asset = http.get(absolute)
            assert asset.status_code == 200, absolute
            assert len(asset.content) > 100, absolute
        # No other host named anywhere in the page (an inline script's fetch, a font).
        assert re.findall(r"https?://[^\s'\"<>]+", html) == []
        # The page's OpenAPI document is this server's, and it loads.
        assert "/openapi.json" in html and http.get("/openapi.json").status_code == 200
