"""The site's own 404 page for views that raise Http404, in debug too.

With DEBUG on, Django answers an Http404 raised by a view with its technical 404
page (settings, URL patterns). A newcomer running `make run` who opens an unknown
topic should see what a student sees, so this middleware renders the site's 404
page for those. A URL that matches no pattern at all is not seen by views or by
this middleware (Django raises Resolver404 before any view runs): in debug it
still gets the technical page, which lists the URL patterns (see README.md).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


class SiteNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            from topics.views import page_not_found

            return page_not_found(request, exception)
        return None
