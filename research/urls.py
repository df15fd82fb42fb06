from django.urls import path

from research import views
from research.api import discovery

urlpatterns = [
    path("research", views.research, name="research"),
    path("api/discovery/start", discovery.HubStartApi.as_view(), name="discovery-start"),
    path(
        "api/discovery/heartbeat", discovery.HubHeartbeatApi.as_view(), name="discovery-heartbeat"
    ),
    path("api/discovery/stop", discovery.HubStopApi.as_view(), name="discovery-stop"),
    path("api/discovery/locate", discovery.LocateApi.as_view(), name="discovery-locate"),
]
