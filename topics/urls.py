from django.urls import path

from topics import views

app_name = "topics"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_detail, name="category"),
    path("topics/<slug:slug>/", views.topic_detail, name="topic"),
    path("related/<slug:slug>/", views.related_detail, name="related"),
    path("search/", views.search, name="search"),
]
