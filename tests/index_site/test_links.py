from index_site.links import absolute_url


def test_absolute_url_starts_with_the_site_url(settings):
    settings.SITE_URL = "https://pkgs.example.org"
    assert absolute_url("accounts:login") == "https://pkgs.example.org/account/login/"


def test_absolute_url_takes_url_arguments_and_a_query(settings):
    settings.SITE_URL = "https://pkgs.example.org"
    assert absolute_url("projects:detail", name="my-pkg", query={"tab": "a b&c"}) == (
        "https://pkgs.example.org/project/my-pkg/?tab=a+b%26c"
    )
