"""Reading a Content-Security-Policy header as its directives (django-csp writes them in no
fixed order)."""


def directives(header: str) -> dict[str, str]:
    """``"sandbox; img-src 'self' data:"`` as ``{"sandbox": "", "img-src": "'self' data:"}``."""
    parts = (part.strip().partition(" ") for part in header.split(";") if part.strip())
    return {name: value.strip() for name, _, value in parts}
