from django.contrib import admin
from django.urls import include, path

from learning_platform.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("simulations.urls")),
    path("", include("topics.urls")),
]

handler404 = "topics.views.page_not_found"
handler500 = "topics.views.server_error"
