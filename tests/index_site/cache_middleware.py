"""A middleware that reads the cache on every request, as session and rate-limit middleware do."""

from django.core.cache import cache


class ReadsCache:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cache.get("tests:middleware")
        return self.get_response(request)
