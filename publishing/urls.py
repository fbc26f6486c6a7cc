from django.urls import path

from publishing import upload_views

app_name = "publishing"

urlpatterns: list = [
    # The upload API (twine, uv). Both spellings answer: twine treats a redirect as a failure.
    path("legacy/", upload_views.legacy_upload, name="legacy_upload"),
    path("legacy", upload_views.legacy_upload, name="legacy_upload_no_slash"),
]
