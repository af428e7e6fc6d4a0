"""Template tags the topic page uses to embed simulations. (Placeholder until the core lands.)"""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def simulation_panels(context, topic) -> str:
    return ""


@register.simple_tag(takes_context=True)
def feature_preset_link(context, feature) -> str:
    return ""
