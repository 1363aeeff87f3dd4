"""Template helpers of the Images panel."""

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    """``{{ links|get_item:column }}``: a dict entry whose key is a variable."""
    return mapping.get(key, "")
