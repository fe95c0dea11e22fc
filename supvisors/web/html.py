"""Tiny XHTML building helpers: every page is built from these, so escaping is done in one place."""

from html import escape
from typing import Any, Iterable, Optional, Union

Content = Union[str, Iterable[str], None]


def esc(value: Any) -> str:
    """ Text or attribute value made safe for XHTML. """
    return escape(str(value), quote=True)


def attrs(**attributes: Any) -> str:
    """ ' key="value"' pairs; None/False values are omitted; a trailing underscore allows 'class_'. """
    parts = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        name = key.rstrip('_').replace('_', '-')
        parts.append(f' {name}="{esc(value)}"')
    return ''.join(parts)


def join(content: Content) -> str:
    """ Content given as a string or an iterable of strings. """
    if content is None:
        return ''
    if isinstance(content, str):
        return content
    return ''.join(content)


def tag(name: str, content: Content = '', **attributes: Any) -> str:
    """ An element whose content is already XHTML. """
    return f'<{name}{attrs(**attributes)}>{join(content)}</{name}>'


def text(name: str, value: Any, **attributes: Any) -> str:
    """ An element holding escaped text. """
    return tag(name, esc(value), **attributes)


def link(label: str, href: Optional[str], class_: Optional[str] = None, **attributes: Any) -> str:
    """ An anchor; without href it is a plain disabled anchor (class 'off' expected from the caller). """
    return tag('a', esc(label), href=href, class_=class_, **attributes)


def classes(*names: Optional[str]) -> str:
    """ A class attribute value from the truthy names. """
    return ' '.join(name for name in names if name)
