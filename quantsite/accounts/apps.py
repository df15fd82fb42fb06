from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "quantsite.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from quantsite import checks, schema  # noqa: F401  (register checks, schema extensions)
