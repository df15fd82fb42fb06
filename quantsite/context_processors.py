"""Template context shared by every page."""

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# The site's sections in the navigation bar, by URL name. A section appears once its app
# provides the URL, so the bar never links to a page that does not exist.
NAVIGATION = [("research", "Research"), ("community", "Community")]


def navigation(request: HttpRequest) -> dict:
    items = []
    for url_name, label in NAVIGATION:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "active": request.path.startswith(url)})
    return {"nav_items": items}
