from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class ResearchConfig(AppConfig):
    name = "research"
    verbose_name = "Research: hubs and discovery"

    def ready(self) -> None:
        # Logging out of the site ends the person's hub logins too (however the site's logout
        # happens: the bar's button, the hub's logout page, an admin's action). The accounts
        # app knows nothing of hubs, so research listens for Django's own signal.
        user_logged_out.connect(_hub_sessions_end, dispatch_uid="research.hub_sessions_end")


def _hub_sessions_end(sender, request, user, **kwargs) -> None:
    from research.services.hubs import user_hub_sessions_end

    if user is not None:
        user_hub_sessions_end(user=user)
