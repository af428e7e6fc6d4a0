from django.contrib import admin
from django.urls import include, path, re_path

from learning_platform.api import api
from topics.views import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api/", api_not_found),  # anything under /api/ that no endpoint answers: JSON 404
    path("", include("topics.urls")),
]

handler404 = "topics.views.page_not_found"
handler500 = "topics.views.server_error"
