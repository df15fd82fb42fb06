from django.urls import path, re_path

from research import views
from research.api import contents, discovery

urlpatterns = [
    path("research", views.research, name="research"),
    path("research/notebooks", views.notebooks, name="notebooks"),
    path(
        "research/notebooks/download/<path:path>", views.notebook_download, name="notebook-download"
    ),
    path("api/discovery/start", discovery.HubStartApi.as_view(), name="discovery-start"),
    path(
        "api/discovery/heartbeat", discovery.HubHeartbeatApi.as_view(), name="discovery-heartbeat"
    ),
    path("api/discovery/stop", discovery.HubStopApi.as_view(), name="discovery-stop"),
    path("api/discovery/locate", discovery.LocateApi.as_view(), name="discovery-locate"),
    path("api/discovery/tokens", discovery.ServerTokenApi.as_view(), name="discovery-tokens"),
    re_path(
        r"^api/contents/(?P<path>.+)/checkpoints/(?P<checkpoint_id>[^/]+)$",
        contents.CheckpointApi.as_view(),
        name="contents-checkpoint",
    ),
    re_path(
        r"^api/contents/(?P<path>.+)/checkpoints$",
        contents.CheckpointsApi.as_view(),
        name="contents-checkpoints",
    ),
    # The root and a path apart, so that the OpenAPI schema has both operations.
    path("api/contents", contents.ContentsApi.as_view(), name="contents-root"),
    re_path(r"^api/contents/(?P<path>.*)$", contents.ContentsApi.as_view(), name="contents"),
]
