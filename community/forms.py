"""What the forum's pages accept: a topic, a reply, a list's query, a version to clone."""

from django import forms

from community.selectors import TOPIC_SORTS
from community.services.forum import tag_names_clean


class TopicForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text (Markdown)",
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    tags = forms.CharField(
        max_length=200,
        required=False,
        help_text="Up to 5, separated by commas: letters, digits and dashes.",
    )

    def clean_tags(self) -> list[str]:
        try:
            return tag_names_clean(self.cleaned_data["tags"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply (Markdown)",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class TopicListForm(forms.Form):
    """A list page's query string. Never refused: a value that is not understood is read as
    its default (the latest first, no search, no tag, the first page), and a long search or
    tag is cut to size."""

    q = forms.CharField(required=False)
    tag = forms.CharField(required=False)
    sort = forms.CharField(required=False, strip=False)
    page = forms.CharField(required=False, strip=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:200]

    def clean_tag(self) -> str:
        return self.cleaned_data["tag"].lower()[:32]

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"]
        return sort if sort in TOPIC_SORTS else "latest"

    def query(self) -> dict[str, str]:
        """``sort``, ``query``, ``tag`` and ``page_number``, as ``selectors.topic_page``
        takes them."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "sort": data.get("sort", "latest"),
            "query": data.get("q", ""),
            "tag": data.get("tag", ""),
            "page_number": data.get("page") or None,
        }


class CloneForm(forms.Form):
    """Which version to clone: a number of up to 9 digits; the newest if absent."""

    version = forms.RegexField(
        regex=r"\A[0-9]{1,9}\Z",
        required=False,
        strip=False,
        error_messages={"invalid": "version must be a version number."},
    )

    def clean_version(self) -> int | None:
        number = self.cleaned_data["version"]
        return int(number) if number else None
