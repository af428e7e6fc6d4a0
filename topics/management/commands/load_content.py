"""`python manage.py load_content`: create whatever part of the seed content is missing."""

from django.core.management.base import BaseCommand

from topics.services import load_content


class Command(BaseCommand):
    help = (
        "Create the seed categories, topics, features, use cases and related items that are "
        "missing. Never changes or re-adds to anything that exists, so instructors' edits are "
        "kept. (A deleted seed topic is created again: to hide one, mark it as draft.)"
    )

    def handle(self, *args, **options) -> None:
        summary = load_content()
        if not summary.created_anything:
            self.stdout.write("Content is already loaded: nothing to create.")
            return
        self.stdout.write(self.style.SUCCESS(f"Created {summary}."))
        for title in summary.created_topic_titles:
            self.stdout.write(f"  new topic: {title}")
