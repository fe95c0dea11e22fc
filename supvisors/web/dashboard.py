"""The dashboard inside supervisord's HTTP server (interfaces 3.1).

One medusa handler is put in front of Supervisor's handlers of every HTTP server when supervisord is RUNNING: it
serves the Supvisors pages, the statistics images, the live-update stream and the static files of ``supvisors/ui``;
everything else (XML-RPC, ``tail.html``, the tail -f handlers) falls through to Supervisor. Requests are handled in
supervisord's thread, the thread that owns the fleet model, so pages read the model directly.
"""

import mimetypes
import os
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote

from supervisor import http
from supervisor.http import NOT_DONE_YET
from supervisor.states import SupervisorStates
from supervisor.web import DeferredWebProducer

from .plots import IMAGE_NAMES, ImageBuffers
from .viewcontext import ViewContext

UI_DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'ui')
LIVE_PATH = '/supvisors_live'  # server-sent events telling the pages that the fleet has changed
LIVE_HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle live stream
POLL_DELAY = 0.05  # how often a deferred answer or a live stream is polled by the HTTP server

NO_CACHE_HEADERS = {'Pragma': 'no-cache', 'Cache-Control': 'no-cache', 'Expires': 'Thu, 01 Jan 1970 00:00:00 GMT'}


def _page_classes() -> Dict[str, Any]:
    """ The page classes, imported when first needed (pages import matplotlib-free modules only). """
    from .pages.application import ApplicationPage
    from .pages.host_instance import HostInstancePage
    from .pages.index import MainPage
    from .pages.maintail import MainTailPage
    from .pages.proc_instance import ProcInstancePage
    return {'index.html': MainPage, 'proc_instance.html': ProcInstancePage, 'host_instance.html': HostInstancePage,
            'application.html': ApplicationPage, 'maintail.html': MainTailPage}


class Dashboard:
    """ What the pages need besides the request: the runtime, the image buffers, the change counter. """

    def __init__(self, runtime):
        self.runtime = runtime
        self.logger = runtime.logger
        self.images = ImageBuffers()
        self._pages: Optional[Dict[str, Any]] = None

    @property
    def statistics(self):
        return self.runtime.statistics

    @property
    def pages(self) -> Dict[str, Any]:
        if self._pages is None:
            self._pages = _page_classes()
        return self._pages

    @property
    def version(self) -> Tuple[int, int]:
        """ Changes when anything shown may have changed: events applied to the model, statistics compiled. """
        return self.runtime.version, getattr(self.statistics, 'version', 0)

    def interface_names(self, period: Optional[int]) -> List[str]:
        """ Network interfaces of the local host known to the statistics of the period, sorted. """
        stats = self.statistics.get_stats(self.runtime.mapper.local_identifier, period) if period else None
        return sorted(stats.io) if stats is not None else []

    @property
    def supervisord_running(self) -> bool:
        return self.runtime.supervisord.options.mood == SupervisorStates.RUNNING


class Response:
    """ A deferred-web-producer callback answering at once or when an action completes. """

    delay = POLL_DELAY

    def __init__(self, producer: Callable[[], Any], runtime=None):
        self.producer = producer
        self.runtime = runtime

    def __call__(self) -> Any:
        result = self.producer()
        if result is NOT_DONE_YET and self.runtime is not None:
            self.runtime.note_deferred()
        return result


def html_response(body: str) -> Dict[str, Any]:
    headers = {'Content-Type': 'text/html;charset=utf-8'}
    headers.update(NO_CACHE_HEADERS)
    return {'headers': headers, 'body': body.encode('utf-8')}


def redirect_response(location: str) -> Dict[str, Any]:
    return {'headers': {'Location': location}, 'body': b''}


class LiveProducer:
    """ Endless text/event-stream: one 'data: <version>' event each time the fleet view changes. """

    delay = 0.5

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard
        self.version = dashboard.version
        self.last_sent = time.monotonic()
        self.first = True

    def more(self) -> Any:
        if self.first:
            self.first = False
            self.last_sent = time.monotonic()
            return b'retry: 2000\n\n'
        version = self.dashboard.version
        now = time.monotonic()
        if version != self.version:
            self.version = version
            self.last_sent = now
            return f'data: {version[0]}.{version[1]}\n\n'.encode()
        if now - self.last_sent > LIVE_HEARTBEAT:
            self.last_sent = now
            return b': alive\n\n'
        return NOT_DONE_YET


class DashboardHandler:
    """ Medusa handler of the dashboard paths. """

    IDENT = 'Supvisors Dashboard HTTP Request Handler'

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    @staticmethod
    def _path(request) -> str:
        path, _params, _query, _fragment = request.split_uri()
        path = unquote(path)
        while path.startswith('//'):
            path = path[1:]
        return '/index.html' if path in ('', '/') else path

    def match(self, request) -> bool:
        if request.command not in ('GET', 'POST', 'HEAD'):
            return False
        path = self._path(request)
        name = path[1:]
        if name in self.dashboard.pages or name in IMAGE_NAMES or path == LIVE_PATH:
            return True
        return self._static_file(path) is not None

    @staticmethod
    def _static_file(path: str) -> Optional[str]:
        """ The file of the ui directory at path; None outside it or when missing. """
        relative = os.path.normpath(path.lstrip('/'))
        if relative.startswith('..') or os.path.isabs(relative) or relative == '.':
            return None
        full = os.path.join(UI_DIRECTORY, relative)
        return full if os.path.isfile(full) else None

    def handle_request(self, request) -> None:
        # an empty body (e.g. the confirmation form) never reaches a numeric terminator of 0: nothing to collect
        if request.command == 'POST' and (request.get_header('content-length') or '').strip() != '0':
            from supervisor.medusa.xmlrpc_handler import collector
            request.collector = collector(self, request)
        else:
            self.continue_request(b'', request)

    def continue_request(self, data: Any, request) -> None:
        try:
            self._continue_request(data, request)
        except Exception:
            self.dashboard.logger.error(f'DashboardHandler: {request.uri}: {traceback.format_exc()}')
            request.error(500)

    def _continue_request(self, data: Any, request) -> None:
        path = self._path(request)
        name = path[1:]
        if name in IMAGE_NAMES:
            self._send_image(request, name)
        elif path == LIVE_PATH:
            self._start_live(request)
        elif name in self.dashboard.pages:
            self._serve_page(request, name, path, data)
        else:
            self._send_static(request, self._static_file(path))

    # ------------------------------------------------------------------ pages
    def _serve_page(self, request, name: str, path: str, data: Any) -> None:
        form: Dict[str, str] = {}
        _path, _params, query, _fragment = request.split_uri()
        for key, value in parse_qsl((query or '').lstrip('?'), keep_blank_values=True):
            form.setdefault(key, value)  # duplicates ignored
        if data:
            body = data.decode('utf-8', 'replace') if isinstance(data, bytes) else str(data)
            for key, value in parse_qsl(body, keep_blank_values=True):
                form[key] = value  # body values override query values
        server_url = request.get_server_url() if hasattr(request, 'get_server_url') else ''
        if not self.dashboard.supervisord_running:
            callback = Response(lambda: html_response('<html><body>supervisord is not RUNNING</body></html>'))
        else:
            ctx = ViewContext(self.dashboard, name, form, server_url, path)
            page = self.dashboard.pages[name](self.dashboard, ctx)
            callback = Response(page.respond(request.command == 'POST'), self.dashboard.runtime)
        request.channel.push_with_producer(DeferredWebProducer(request, callback))

    # ------------------------------------------------------------------ images, live updates, static files
    def _send_image(self, request, name: str) -> None:
        image = self.dashboard.images.get(name)
        for key, value in NO_CACHE_HEADERS.items():
            request[key] = value
        request['Content-Type'] = 'image/png'
        request['Content-Length'] = len(image)
        if request.command != 'HEAD':
            request.push(image)
        request.done()

    def _start_live(self, request) -> None:
        request['Content-Type'] = 'text/event-stream'
        request['Cache-Control'] = 'no-cache'
        request['X-Accel-Buffering'] = 'no'
        request.push(LiveProducer(self.dashboard))
        request.done()

    def _send_static(self, request, filename: Optional[str]) -> None:
        if filename is None:
            request.error(404)
            return
        with open(filename, 'rb') as stream:
            content = stream.read()
        content_type = mimetypes.guess_type(filename)[0] or 'application/octet-stream'
        if content_type.startswith('text/') or content_type in ('application/javascript', 'image/svg+xml'):
            content_type += ';charset=utf-8'
        request['Content-Type'] = content_type
        request['Content-Length'] = len(content)
        request['Cache-Control'] = 'max-age=3600'
        if request.command != 'HEAD':
            request.push(content)
        request.done()


def patch_tail_producer(tailf_limit: int) -> None:
    """ tail -f starts max(1024, tailf_limit) bytes before the end (3.10): Supervisor's handlers ask for 1024. """
    original = getattr(http.tail_f_producer, 'supvisors_original', http.tail_f_producer)

    def tail_f_producer(request, filename, head):
        return original(request, filename, max(head, tailf_limit))
    tail_f_producer.supvisors_original = original
    http.tail_f_producer = tail_f_producer


def install_dashboard(runtime) -> Dashboard:
    """ Put the dashboard handler in front of Supervisor's handlers on every HTTP server (same authentication). """
    dashboard = Dashboard(runtime)
    patch_tail_producer(runtime.options.tailf_limit)
    for config, server in getattr(runtime.supervisord.options, 'httpservers', ()):
        handler: Any = DashboardHandler(dashboard)
        username = config.get('username')
        if username:
            handler = http.supervisor_auth_handler({username: config.get('password')}, handler)
        server.install_handler(handler)
    return dashboard
