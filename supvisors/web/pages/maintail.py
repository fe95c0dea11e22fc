"""Tail of supervisord's main log (interfaces 3.10), laid out like Supervisor's own process tail page."""

from typing import Any, Callable

from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.xmlrpc import Faults, RPCError

from ..html import esc
from ..viewcontext import DEFAULT_LIMIT, LIMIT


class MainTailPage:

    page_name = 'maintail.html'

    def __init__(self, dashboard, ctx):
        self.dashboard = dashboard
        self.ctx = ctx

    def respond(self, _is_post: bool) -> Callable[[], Any]:
        from ..dashboard import html_response
        return lambda: html_response(self.render())

    def render(self) -> str:
        form_limit = self.ctx.form.get(LIMIT, '')
        limit = max(DEFAULT_LIMIT, int(form_limit)) if form_limit.isdigit() else DEFAULT_LIMIT
        rpc = SupervisorNamespaceRPCInterface(self.dashboard.runtime.supervisord)
        try:
            tail = rpc.readLog(-limit, 0)
        except RPCError as exc:
            if exc.code == Faults.NO_FILE:
                tail = 'No file for Supervisor'
            else:
                tail = f'ERROR: unexpected rpc fault [{exc.code}] {exc.text}'
        return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
                ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n<title>Supervisor tail</title>\n</head>\n'
                '<body>\n<div id="content">\n'
                f'<pre id="tailbody">{esc(tail)}</pre>\n'
                '<div style="margin-top: 10px;">'
                f'<a href="maintail.html?limit={limit}" id="refresh_anchor">'
                '<input type="button" value=" Refresh " name="refresh" /></a></div>\n'
                '</div>\n</body>\n</html>\n')
