"""Public pages. Views parse the request, call QuerySet methods and render; nothing else."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template import loader
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from simulations.panels import build_panels
from topics.models import Category, RelatedItem, Topic

MAX_QUERY_LENGTH = 200


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    visible = Topic.objects.visible_to(request.user)
    categories = Category.objects.prefetch_related(Prefetch("topics", queryset=visible, to_attr="visible_topics"))
    return render(request, "topics/home.html", {"categories": categories})


@require_GET
def category_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    topics = category.topics.visible_to(request.user).prefetch_related("key_features")
    return render(
        request,
        "topics/category.html",
        {"category": category, "topics": topics, "current_category": category},
    )


@require_GET
def topic_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    topic = get_object_or_404(
        Topic.objects.visible_to(request.user)
        .select_related("category")
        .prefetch_related("key_features", "use_cases"),
        slug=slug,
    )
    return render(
        request,
        "topics/topic.html",
        {
            "topic": topic,
            "related": topic.ordered_related(),
            "current_category": topic.category,
            "simulations": build_panels(topic, request.GET),
        },
    )


@require_GET
def related_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    item = get_object_or_404(RelatedItem, slug=slug)
    topics = list(item.topics.visible_to(request.user).select_related("category"))
    if not topics:
        # Mentioned only by drafts (or by nothing): nothing a student may see.
        raise Http404("No visible topic mentions this item.")
    return render(request, "topics/related.html", {"item": item, "topics": topics})


@require_GET
@vary_on_headers("HX-Request")
def search(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").replace("\x00", "").strip()
    too_long = len(query) > MAX_QUERY_LENGTH
    results: list[Topic] = []
    if query and not too_long:
        results = list(
            Topic.objects.visible_to(request.user)
            .search(query)
            .select_related("category")
            .prefetch_related("key_features", "use_cases", "related_items")
        )
    context = {
        "query": query,
        "too_long": too_long,
        "max_length": MAX_QUERY_LENGTH,
        "results": results,
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "topics/search.html#results", context)
    return render(request, "topics/search.html", context)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return api_not_found(request)
    return render(request, "404.html", status=404)


API_PREFIX = "/api/"


def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any path under /api/ that no endpoint answers: a JSON 404 like the API's own, never HTML.

    Routed as the last pattern under api/ (learning_platform/urls.py), so it also answers
    in debug, where Django would otherwise show its HTML technical 404 page.
    """
    return JsonResponse({"detail": f"Not Found: {request.path}"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: context processors, the session or the database may be
    # what failed, and the error page must still render.
    return HttpResponseServerError(loader.get_template("500.html").render())
