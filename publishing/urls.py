from django.urls import path

from publishing import api, views
from publishing.upload import views as upload_views

app_name = "publishing"

urlpatterns: list = [
    # The upload API (twine, uv). Both spellings answer: twine treats a redirect as a failure.
    path("legacy/", upload_views.legacy_upload, name="legacy_upload"),
    path("legacy", upload_views.legacy_upload, name="legacy_upload_no_slash"),
    # Trusted publishing (OIDC) API for CI clients.
    path("_/oidc/audience", api.AudienceView.as_view(), name="oidc_audience"),
    path("_/oidc/mint-token", api.MintTokenView.as_view(), name="oidc_mint_token"),
    path(
        "_/oidc/github/mint-token",
        api.MintTokenView.as_view(),
        name="oidc_github_mint_token",
    ),
    path("_/oidc/burn-token", api.BurnTokenView.as_view(), name="oidc_burn_token"),
    # Trusted publisher management.
    path(
        "manage/project/<text:name>/settings/publishing/", views.project_publishing, name="project"
    ),
    path(
        "manage/project/<text:name>/settings/publishing/<int:publisher_id>/remove/",
        views.remove_project_publisher,
        name="remove_publisher",
    ),
    path("manage/account/publishing/", views.account_publishing, name="account"),
    path(
        "manage/account/publishing/<int:pending_id>/remove/",
        views.remove_pending_publisher,
        name="remove_pending",
    ),
]
