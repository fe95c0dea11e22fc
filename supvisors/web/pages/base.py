"""What the four Supvisors pages share: the request flow, the common layout (interfaces 3.2) and the action plumbing.

Request flow: parameter errors and actions end with a 301 redirection carrying the message (3.5). State-changing
actions are only performed on POST requests: the action buttons are links whose clicks the page script turns into
POSTs, so that a crawler or a browser prefetch following a link changes nothing; a GET carrying an action shows
the page with a confirmation button instead.
"""

import time
from typing import Any, Callable, Dict, Optional, Tuple, Union

from supervisor.http import NOT_DONE_YET
from supervisor.xmlrpc import RPCError

from ...ttypes import ApplicationStates, SupvisorsInstanceStates, SupvisorsStates
from ..html import classes, esc, link, tag, text
from ..viewcontext import ACTION, WARN, ViewContext, error_message

SUPVISORS_VERSION = '0.15'
MASTER_MARK = '\u272a '
PAGE_TITLE = 'Supvisors status'

Message = Tuple[str, str]
# an action gives its message at once, or a callable polled until it gives it (NOT_DONE_YET meanwhile)
ActionResult = Union[Message, Callable[[], Any]]


def deferred(result: Any, on_success: Callable[[Any], Message],
             on_fault: Callable[[RPCError], Message]) -> ActionResult:
    """ Wrap the result of an RPC method (a value, or a callable when it waits) into an ActionResult. """
    if not callable(result):
        return on_success(result)

    def poll() -> Any:
        try:
            value = result()
        except RPCError as exc:
            return on_fault(exc)
        if value is NOT_DONE_YET:
            return NOT_DONE_YET
        return on_success(value)
    return poll


def rpc_fault(rpc_name: str) -> Callable[[RPCError], Message]:
    """ '<rpc name>: <fault text>' as an erro message (3.5). """
    return lambda exc: error_message(f'{rpc_name}: {exc.text}')


def call_rpc(rpc_name: str, method: Callable[..., Any], args: tuple, on_success: Callable[[Any], Message]
             ) -> ActionResult:
    """ Call an RPC method in-process and turn its answer (immediate, deferred or fault) into an ActionResult. """
    try:
        result = method(*args)
    except RPCError as exc:
        return rpc_fault(rpc_name)(exc)
    return deferred(result, on_success, rpc_fault(rpc_name))


class BasePage:
    """ A Supvisors page: subclasses give the header, the contents and the actions. """

    page_name = 'index.html'
    # identifier of the instance shown as 'active' in the menu (Supervisor pages: the local one)
    shows_local_instance = False

    def __init__(self, dashboard, ctx: ViewContext):
        self.dashboard = dashboard
        self.ctx = ctx
        self.runtime = dashboard.runtime
        self.core = dashboard.runtime.core
        self.render_time = time.time()

    # ------------------------------------------------------------------ what subclasses give
    def early_redirect(self) -> Optional[str]:
        """ A Location to go to before anything else (e.g. unknown application), None to go on. """
        return None

    def actions(self) -> Dict[str, Callable[[], ActionResult]]:
        """ The actions of the page by name. """
        return {}

    def render_header(self) -> str:
        return ''

    def render_contents(self) -> str:
        return ''

    def active_application(self) -> Optional[str]:
        return None

    # ------------------------------------------------------------------ request flow
    def respond(self, is_post: bool) -> Callable[[], Any]:
        """ The callback polled by the HTTP server until it gives the response. """
        from ..dashboard import html_response, redirect_response
        ctx = self.ctx
        location = self.early_redirect()
        if location:
            return lambda: redirect_response(location)
        if ctx.errors:
            location = ctx.redirect_location(ctx.parameter_error_message())
            return lambda: redirect_response(location)
        if ctx.action:
            if not is_post:
                return lambda: html_response(self.render(confirm=True))
            result = self.perform(ctx.action)
            if callable(result):
                def poll() -> Any:
                    outcome = result()
                    if outcome is NOT_DONE_YET:
                        return NOT_DONE_YET
                    return redirect_response(ctx.redirect_location(outcome))
                return poll
            location = ctx.redirect_location(result)
            return lambda: redirect_response(location)
        return lambda: html_response(self.render())

    def perform(self, action: str) -> ActionResult:
        method = self.actions().get(action)
        if method is None:
            return error_message(f'Incorrect {ACTION}: {action}')
        try:
            return method()
        except RPCError as exc:
            return error_message(f'{action}: {exc.text}')

    @property
    def wait(self) -> bool:
        """ The wait argument of the RPCs called by the actions (3.5). """
        return not self.ctx.auto

    # ------------------------------------------------------------------ layout
    def render(self, confirm: bool = False) -> str:
        refresh = '<meta http-equiv="refresh" content="5" />' if self.ctx.auto else ''
        return ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
                ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n'
                f'<title>{PAGE_TITLE}</title>\n'
                '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
                f'{refresh}'
                '<link rel="stylesheet" type="text/css" href="/css/supvisors.css" />\n'
                '<link rel="icon" type="image/svg+xml" href="/img/supvisors.svg" />\n'
                '<script type="text/javascript" src="/js/supvisors.js" defer="defer"></script>\n'
                '</head>\n'
                f'<body data-live="/supvisors_live" data-page="{esc(self.page_name)}">\n'
                '<div id="wrapper">\n'
                f'{self.render_menu()}\n'
                '<div id="main">\n'
                f'<div id="header">{self.render_header()}{self.render_common_buttons()}</div>\n'
                f'<div id="contents">{self.render_contents()}</div>\n'
                f'{self.render_status(confirm)}\n'
                '</div>\n</div>\n</body>\n</html>\n')

    # menu (3.2)
    def render_menu(self) -> str:
        ctx = self.ctx
        core = self.core
        title_class = 'blink' if core.fsm_state == SupvisorsStates.CONCILIATION and core.context.conflicts() else None
        parts = [tag('h1', link('Supvisors', ctx.format_url(None, 'index.html'), class_=title_class), id='title'),
                 tag('div', f'{SUPVISORS_VERSION}<br />view from {esc(ctx.local_identifier)}', class_='version'),
                 self._render_instances_menu(),
                 self._render_applications_menu(),
                 tag('div', tag('a', 'Contact', href='mailto:supvisors@localhost') +
                     '<br />&#169; Supvisors, Apache License 2.0', class_='copyright')]
        return tag('div', parts, id='menu')

    def _render_instances_menu(self) -> str:
        ctx = self.ctx
        entries = []
        for identifier, status in self.core.instances.items():
            label = (MASTER_MARK if identifier == self.core.master else '') + identifier
            active = 'active' if self.shows_local_instance and identifier == ctx.local_identifier else None
            blink = 'blink' if status.starting_jobs or status.stopping_jobs else None
            if status.state == SupvisorsInstanceStates.RUNNING:
                anchor = link(label, ctx.format_url(identifier, 'proc_instance.html'), class_=classes('on', blink))
            else:
                anchor = link(label, None, class_=classes('off', blink))
            entries.append(tag('li', anchor, class_=classes(status.state.name, active)))
        return tag('h2', 'Supervisors') + tag('ul', entries, class_='instances')

    def _render_applications_menu(self) -> str:
        ctx = self.ctx
        core = self.core
        applications = sorted((x for x in core.context.applications.values() if x.managed),
                              key=lambda x: x.application_name)
        linkable = core.fsm_state not in (SupvisorsStates.OFF, SupvisorsStates.INITIALIZATION)
        entries = []
        any_failure = False
        for application in applications:
            name = application.application_name
            failure = application.major_failure or application.minor_failure
            any_failure = any_failure or failure
            active = 'active' if name == self.active_application() else None
            blink = 'blink' if core.starter.has_job(name) or core.stopper.has_job(name) else None
            if linkable:
                strategy = application.rules.starting_strategy
                strategy_name = getattr(strategy, 'name', strategy)
                href = ctx.format_url(None, 'application.html', appliname=name, strategy=strategy_name)
                anchor = link(name, href, class_=classes('on', blink))
            else:
                anchor = link(name, None, class_=classes('off', blink))
            entries.append(tag('li', anchor, class_=classes(application.state.name, active,
                                                             'failure' if failure else None)))
        heading = tag('h2', 'Applications', class_='failure' if any_failure else None)
        return heading + tag('ul', entries, class_='applications')

    # header buttons
    def render_common_buttons(self) -> str:
        ctx = self.ctx
        refresh = link('Refresh', ctx.format_url(None, self.page_name), class_='button on', id='refresh')
        auto = link('Auto-refresh', ctx.format_url(None, self.page_name, auto=not ctx.auto),
                    class_=classes('button on', 'active' if ctx.auto else None), id='autorefresh')
        return tag('div', refresh + auto, class_='buttons common')

    # status box
    def render_status(self, confirm: bool = False) -> str:
        ctx = self.ctx
        if confirm:
            target = f'{ctx.path}?{self._action_query()}'
            form = tag('form', tag('button', 'Confirm', type='submit', class_='button on'),
                       method='post', action=target, class_='confirm')
            message = tag('div', esc(f'Confirm the action {ctx.action}?') + form, id='message', class_=WARN)
        elif ctx.message:
            gravity, message_text = ctx.message
            message = text('div', message_text, id='message', class_=gravity)
        else:
            message = tag('div', '', id='message', class_='empty')
        return tag('div', message + text('div', time.ctime(self.render_time), id='time'), id='status')

    def _action_query(self) -> str:
        from ..viewcontext import build_query
        values = self.ctx.url_parameters(action=self.ctx.action)
        return build_query(values)

    # ------------------------------------------------------------------ shared pieces
    def action_button(self, label: str, href: Optional[str], enabled: bool = True, active: bool = False,
                      **attributes: Any) -> str:
        """ A button: 'button on' link, or 'button off' without href; 'button off active' for a selection. """
        if active:
            return link(label, None, class_='button off active', **attributes)
        if not enabled or not href:
            return link(label, None, class_='button off', **attributes)
        return link(label, href, class_='button on', **attributes)

    def action_url(self, action: str, identifier: Optional[str] = None, page: Optional[str] = None,
                   **overrides: Any) -> str:
        """ Link performing an action on this page (or on page of instance identifier). """
        return self.ctx.format_url(identifier, page or self.page_name, action=action, **overrides)

    @staticmethod
    def application_state_class(state: ApplicationStates) -> str:
        return state.name
