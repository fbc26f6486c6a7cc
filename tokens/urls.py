from django.urls import path

from tokens import api, views

app_name = "tokens"

urlpatterns = [
    path("tokens/", views.token_list, name="list"),
    path("tokens/new/", views.token_create, name="create"),
    path("tokens/<uuid:token_id>/revoke/", views.token_revoke, name="revoke"),
    path("_/secrets/disclose-token", api.DiscloseTokenView.as_view(), name="disclose_token"),
    path("_/tokens/current", api.CurrentTokenView.as_view(), name="revoke_current"),
]
