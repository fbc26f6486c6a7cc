from django.urls import path

from tokens import views

app_name = "tokens"

urlpatterns = [
    path("tokens/", views.token_list, name="list"),
    path("tokens/new/", views.token_create, name="create"),
    path("tokens/<uuid:token_id>/revoke/", views.token_revoke, name="revoke"),
    path("_/secrets/disclose-token", views.disclose_token, name="disclose_token"),
    path("_/tokens/current", views.revoke_current_token, name="revoke_current"),
]
