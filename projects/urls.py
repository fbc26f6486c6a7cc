from django.urls import path

from projects.views import files, simple

app_name = "projects"

urlpatterns = [
    path("simple/", simple.simple_index, name="simple_index"),
    path("simple/<str:name>/", simple.simple_project, name="simple_project"),
    path("files/<path:path>", files.download_file, name="file"),
]
