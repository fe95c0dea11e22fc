"""Glue between supervisord, the decision core and the I/O adapters.

Threading model: supervisord's own thread owns the core. The bus thread and the worker threads (XML-RPC to
peers) never touch it: they append events to a queue and write one byte on a socketpair whose reading end is a
dispatcher in supervisord's socket map, so supervisord's poll loop wakes up at once and drains the queue in its
own thread. Nothing waits for a poll timeout or a tick.
"""

import socket
import threading
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Deque, Optional

from supervisor import events
from supervisor.medusa import asyncore_25 as asyncore
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.xmlrpc import RPCError

from ..bus import framing
from ..bus.node import (BusFailure, CheckRequested, InternalBus, LocalTick, PeerConnected, PeerDown, Received,
                        RequestFailed)
from ..core import actions as act
from ..core.engine import SupvisorsCore
from ..ttypes import InternalMessages
from .event_publisher import create_event_publisher
from .local_supervisor import LocalSupervisor
from .process_control import start_args
from .peers import PeerClient
from .statistics import CollectStatistics, StatisticsCollected, StatisticsService, running_processes


class _LocalProcessEvent:
    __slots__ = ('payload',)

    def __init__(self, payload):
        self.payload = payload


class WakeUpDispatcher(asyncore.dispatcher):
    """ Reading end of the wake-up socketpair, polled by supervisord's main loop. """

    def __init__(self, sock: socket.socket, callback: Callable[[], None], logger):
        asyncore.dispatcher.__init__(self, sock)
        self.callback = callback
        self.logger = logger

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        try:
            while self.socket.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        self.callback()

    def handle_error(self) -> None:
        self.logger.error(f'WakeUpDispatcher: {traceback.format_exc()}')

    def handle_close(self) -> None:
        pass


class DelayedWaker(threading.Thread):
    """ Wakes supervisord's loop once at the latest time asked for, however many times it is asked meanwhile. """

    def __init__(self, wake: Callable[[], None]):
        super().__init__(name='supvisors-waker', daemon=True)
        self.wake = wake
        self.condition = threading.Condition()
        self.deadline: Optional[float] = None
        self.stopping = False

    def schedule(self, deadline: float) -> None:
        """ Wake at the monotonic time deadline, or later if a later wake-up is already asked for. """
        with self.condition:
            if self.deadline is None or deadline > self.deadline:
                self.deadline = deadline
                self.condition.notify()

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            self.condition.notify()

    def run(self) -> None:
        while True:
            with self.condition:
                while not self.stopping and (self.deadline is None or time.monotonic() < self.deadline):
                    timeout = None if self.deadline is None else self.deadline - time.monotonic()
                    self.condition.wait(timeout)
                if self.stopping:
                    return
                self.deadline = None
            self.wake()


# how long after its last poll a deferred answer (XML-RPC with wait, dashboard action) is considered pending
DEFERRED_PENDING = 2.0
# an HTTP channel holding a deferred answer polls it no more often than this (the delay of the deferred callables)
DEFERRED_POLL_DELAY = 0.05


class SupvisorsRuntime:

    def __init__(self, supervisord, options, mapper, core: SupvisorsCore, logger,
                 username: Optional[str], password: Optional[str]):
        self.supervisord = supervisord
        self.options = options
        self.mapper = mapper
        self.core = core
        self.logger = logger
        self.local = LocalSupervisor(supervisord)
        self.peers = PeerClient(username, password, logger)
        self.queue: Deque[Any] = deque()
        self.bus: Optional[InternalBus] = None
        self.pool: Optional[ThreadPoolExecutor] = None
        self.wake_w: Optional[socket.socket] = None
        self.dispatcher: Optional[WakeUpDispatcher] = None
        self.event_publisher = None
        self.local_programs = None  # LocalPrograms, read from the configuration when first needed
        self.disabilities = None
        # statistics of every instance, compiled in this thread (the core does not own them)
        self.statistics = StatisticsService(options, mapper.identifiers, mapper.local_identifier, logger)
        self.stopped = False
        self._processing = False
        self.version = 0  # counts the events applied to the model (the dashboard's live updates follow it)
        self.deferred_seen = 0.0  # last time a deferred answer was found not ready
        self.waker: Optional[DelayedWaker] = None
        self.dashboard = None
        events.subscribe(events.SupervisorRunningEvent, self._on_running)
        events.subscribe(events.SupervisorStoppingEvent, self._on_stopping)
        events.subscribe(events.ProcessStateEvent, self._on_process_state)
        events.subscribe(events.ProcessGroupAddedEvent, self._on_group_added)
        events.subscribe(events.ProcessGroupRemovedEvent, self._on_group_removed)

    # ------------------------------------------------------------------ supervisord events
    def _on_running(self, _event) -> None:
        self.logger.info('SupvisorsRuntime: supervisord is RUNNING: starting communications')
        self._prepare_processes(self.supervisord.process_groups.values())
        wake_r, self.wake_w = socket.socketpair()
        wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.dispatcher = WakeUpDispatcher(wake_r, self._process_queue, self.logger)
        self.waker = DelayedWaker(self._wake)
        self.waker.start()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix='supvisors-rpc')
        self.event_publisher = create_event_publisher(self.options.event_link, self.mapper.local_instance.event_port,
                                                      self.logger)
        self.core.notifications = self.event_publisher is not None
        local = self.mapper.local_instance
        peers = {identifier: (instance.host_name, instance.internal_port)
                 for identifier, instance in self.mapper.instances.items() if identifier != local.identifier}
        secret = getattr(self.options, 'internal_secret', b'') or None
        if secret:
            self.logger.info('SupvisorsRuntime: the internal communication is authenticated (internal_secret)')
        self.bus = InternalBus(local.identifier, local.internal_port, peers, self._deliver, self.logger,
                               tick_period=self.options.tick_period, secret=secret)
        self.run(self.core.start)
        self.bus.start()
        self.statistics.start(self._deliver)
        self._install_dashboard()

    def _install_dashboard(self) -> None:
        """ The Supvisors dashboard replaces Supervisor's web pages; a failure there must not stop supervisord. """
        try:
            from ..web.dashboard import install_dashboard
            self.dashboard = install_dashboard(self)
        except Exception:
            self.logger.critical(f'SupvisorsRuntime: cannot install the dashboard: {traceback.format_exc()}')

    def _on_stopping(self, _event) -> None:
        """ supervisord is stopping: publish nothing more, release every socket and thread. """
        if self.stopped:
            return
        self.stopped = True
        self.logger.info('SupvisorsRuntime: supervisord is STOPPING: closing communications')
        self.statistics.stop()
        if self.waker is not None:
            self.waker.stop()
        if self.bus is not None:
            self.bus.stop(flush_timeout=1.0)
        if self.pool is not None:
            self.pool.shutdown(wait=False)
        if self.event_publisher is not None:
            self.event_publisher.close()
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self.wake_w is not None:
            self.wake_w.close()

    def _on_process_state(self, event) -> None:
        if self.stopped or self.bus is None:
            return
        payload = self.local.event_payload(event.process, getattr(event, 'expected', True))
        # handled at the next turn of supervisord's loop, never inside Supervisor's own state change (a local
        # start fires its events before Supervisor is done with the process and before the caller is answered)
        self._deliver(_LocalProcessEvent(payload))

    def _on_group_added(self, event) -> None:
        if self.stopped or self.bus is None:
            return
        self._refresh_programs()
        group = self.supervisord.process_groups.get(event.group)
        if group is None:
            return
        self._prepare_processes([group])
        infos = [self.local.process_info(group.processes[name]) for name in sorted(group.processes)]
        self.run(self.core.on_local_processes_added, infos)

    def _on_group_removed(self, event) -> None:
        if self.stopped or self.bus is None:
            return
        self.run(self.core.on_local_process_removed, event.group, '*')

    @property
    def programs(self):
        """ The program table (read now if it was not yet), with every program defaulted in the disabilities. """
        info = self.local_programs.info
        if self.disabilities is not None:
            self.disabilities.set_defaults(info.programs)
        return info

    def _prepare_processes(self, groups) -> None:
        for group in groups:
            self.prepare_processes(group.processes.values())

    def prepare_processes(self, processes) -> None:
        """ Supvisors' attributes of Supervisor processes: disabled flag from the file, no extra arguments. """
        any_disabled = bool(self.disabilities and any(self.disabilities.mapping.values()))
        for process in processes:
            if not hasattr(process, 'disabled'):
                process.disabled = False
                if any_disabled:  # the program names are needed only then
                    program = self.programs.program_of(process.group.config.name, process.config.name)
                    process.disabled = self.disabilities.is_disabled(program)
            if not hasattr(process, 'extra_args'):
                process.extra_args = ''

    def _refresh_programs(self) -> None:
        """ The configuration may have changed (supervisorctl update): read it again when next needed. """
        if self.local_programs is not None:
            self.local_programs.invalidate()

    # ------------------------------------------------------------------ cross-thread channel
    def _deliver(self, event: Any) -> None:
        """ Called by the bus and worker threads: queue the event and wake supervisord's loop. """
        self.queue.append(event)
        self._wake()

    def _wake(self) -> None:
        try:
            self.wake_w.send(b'\0')
        except (BlockingIOError, OSError, AttributeError):
            pass

    def note_deferred(self) -> None:
        """ A deferred answer has just been polled and is not ready. """
        self.deferred_seen = time.monotonic()

    def _after_changes(self) -> None:
        """ Something was applied that may complete a deferred answer. Its HTTP channel polls it at most every
        DEFERRED_POLL_DELAY: if it was polled just before, supervisord's loop would sleep its whole poll timeout (1 s)
        before the answer goes out, so the loop is woken again once that delay has passed since the last poll. """
        now = time.monotonic()
        if self.waker is not None and now - self.deferred_seen < DEFERRED_PENDING:
            # the channel polled it at deferred_seen at the latest: it will accept to poll again after the delay
            self.waker.schedule(max(now, self.deferred_seen + DEFERRED_POLL_DELAY + 0.005))

    def _process_queue(self) -> None:
        """ Owner thread: apply every queued event to the core (unless already doing so higher in the stack). """
        if self._processing or self.stopped:
            return
        self._processing = True
        processed = False
        try:
            while self.queue and not self.stopped:
                event = self.queue.popleft()
                self._dispatch(event)
                processed = True
        finally:
            self._processing = False
        if processed:
            self._after_changes()

    def _dispatch(self, event: Any) -> None:
        core = self.core
        now = time.time()
        try:
            if isinstance(event, LocalTick):
                core.on_local_tick(now)
            elif isinstance(event, Received):
                if event.code == InternalMessages.STATISTICS:
                    self.statistics.on_sample(event.identifier, event.body)
                else:
                    core.on_message(event.identifier, event.code, event.body, now)
            elif isinstance(event, act.CheckResult):
                core.on_check_result(event, now)
            elif isinstance(event, _LocalProcessEvent):
                core.on_local_process_event(event.payload, now)
            elif isinstance(event, PeerDown):
                core.on_peer_down(event.identifier, now)
            elif isinstance(event, CheckRequested):
                self._answer_check(event)
            elif isinstance(event, RequestFailed):
                self._xmlrpc_check(event.identifier, event.body)
            elif isinstance(event, PeerConnected):
                self.logger.debug(f'SupvisorsRuntime: connected to {event.identifier}')
            elif isinstance(event, BusFailure):
                self.logger.critical(f'SupvisorsRuntime: internal bus failure: {event.reason}')
                core.on_bus_failure(now)
            elif isinstance(event, CollectStatistics):
                self._collect_statistics()
            elif isinstance(event, StatisticsCollected):
                self._on_local_statistics(event.sample)
        except Exception:
            self.logger.critical(f'SupvisorsRuntime: error while processing {event!r}: {traceback.format_exc()}')
        self.version += 1
        self._execute(core.take_actions())

    # ------------------------------------------------------------------ statistics
    def _collect_statistics(self) -> None:
        """ Owner thread: list the RUNNING processes here (Supervisor's objects are not thread-safe), then measure
        them in a worker thread, psutil calls being too slow for supervisord's loop. """
        if self.stopped or self.pool is None or self.statistics.collecting:
            return  # the previous collection is not over yet: skip this one rather than pile them up
        processes = running_processes(self.supervisord.process_groups)
        try:
            future = self.pool.submit(self.statistics.collect, processes)
        except RuntimeError:  # the pool is shut down
            return
        self.statistics.collecting = True

        def done(fut) -> None:
            try:
                sample = fut.result()
            except Exception as exc:
                self.logger.error(f'SupvisorsRuntime: statistics collection failed: {exc!r}')
                sample = None
            self._deliver(StatisticsCollected(sample))
        future.add_done_callback(done)

    def _on_local_statistics(self, sample: Optional[dict]) -> None:
        """ Owner thread: compile the local sample and share it with the other instances (not replayed to new
        subscribers: a stale sample is of no use). """
        self.statistics.collecting = False
        if sample is None or self.stopped:
            return
        local_identifier = self.mapper.local_identifier
        self.statistics.on_sample(local_identifier, sample)
        if self.bus is not None:
            try:
                frame = framing.encode(InternalMessages.STATISTICS, local_identifier, sample)
            except ValueError as exc:
                self.logger.error(f'SupvisorsRuntime: statistics not published: {exc}')
                return
            self.bus.publish(frame, None)

    def run(self, method: Callable, *args) -> Any:
        """ Call a core entry point from the owner thread, then carry out what it decided. """
        was_processing, self._processing = self._processing, True
        try:
            result = method(*args, time.time())
            self.version += 1
            self._execute(self.core.take_actions())
        finally:
            self._processing = was_processing
        self._after_changes()
        return result

    # ------------------------------------------------------------------ actions
    def _execute(self, actions) -> None:
        for action in actions:
            try:
                self._execute_one(action)
            except Exception:
                self.logger.critical(f'SupvisorsRuntime: cannot execute {action!r}: {traceback.format_exc()}')

    def _execute_one(self, action: Any) -> None:
        if isinstance(action, act.Publish):
            if self.bus is not None:
                frame = framing.encode(action.code, self.mapper.local_identifier, action.body)
                sticky = {InternalMessages.TICK: 'tick', InternalMessages.STATE: 'state'}.get(action.code)
                self.bus.publish(frame, sticky)
        elif isinstance(action, act.Notify):
            if self.event_publisher is not None:
                self.event_publisher.send(action.topic, action.payload)
        elif isinstance(action, act.CheckInstance):
            self._check_instance(action)
        elif isinstance(action, act.IsolateInstances):
            if self.bus is not None:
                self.bus.isolate(action.identifiers)
        elif isinstance(action, act.RestartSupervisor):
            self.local.restart()
        elif isinstance(action, act.ShutdownSupervisor):
            self.local.shutdown()
        elif isinstance(action, act.StartProcess):
            self._start_process(action)
        elif isinstance(action, act.StopProcess):
            self._stop_process(action)
        elif isinstance(action, act.DisableAutorestart):
            self.local.disable_autorestart(action.namespec)
        elif isinstance(action, act.ForwardToMaster):
            self._call_peer(action.master, action.method, action.args)
        else:
            self.logger.error(f'SupvisorsRuntime: unknown action {action!r}')

    def _start_process(self, action: act.StartProcess) -> None:
        if action.identifier == self.mapper.local_identifier:
            try:
                start_args(self.supervisord, action.namespec, action.extra_args, False)
            except RPCError as exc:
                self.logger.error(f'SupvisorsRuntime: cannot start {action.namespec}: {exc.text}')
            return
        self._call_peer(action.identifier, 'start_args', [action.namespec, action.extra_args, False])

    def _stop_process(self, action: act.StopProcess) -> None:
        if action.identifier == self.mapper.local_identifier:
            try:
                SupervisorNamespaceRPCInterface(self.supervisord).stopProcess(action.namespec, False)
            except RPCError as exc:
                self.logger.error(f'SupvisorsRuntime: cannot stop {action.namespec}: {exc.text}')
            return
        self._call_peer(action.identifier, 'stopProcess', [action.namespec, False], 'supervisor')

    def _call_peer(self, identifier: str, method: str, args: list, namespace: str = 'supvisors') -> None:
        """ An XML-RPC to another instance, in a worker thread (errors are logged there). """
        instance = self.mapper.instances.get(identifier)
        if instance is not None and self.pool is not None:
            self.pool.submit(self.peers.call, instance.host_name, instance.http_port, method, args, namespace)

    def _check_instance(self, action: act.CheckInstance) -> None:
        if action.identifier == self.mapper.local_identifier:
            # the local instance checks itself in-process, at once
            try:
                process_list = self.local.all_process_info()
            except Exception:
                process_list = []
            self._deliver(act.CheckResult(action.identifier, action.check_id, True, self.core.master,
                                          process_list=process_list))
            return
        # over the bus: the answer comes on the link, in order with the events that follow it
        frame = framing.encode(InternalMessages.CHECK_REQUEST, self.mapper.local_identifier,
                               {'check_id': action.check_id})
        self.bus.request(action.identifier, frame, action.check_id)

    def _answer_check(self, event: CheckRequested) -> None:
        """ A peer asks for the handshake answer: the state of this instance and its processes. """
        try:
            check_id = int(event.body['check_id'])
        except (KeyError, TypeError, ValueError, OverflowError):
            self.logger.warn(f'SupvisorsRuntime: invalid check request from {event.identifier}: {event.body!r}')
            return
        body = self.core.check_answer(event.identifier, check_id)
        try:
            body['process_list'] = self.local.all_process_info()
        except RPCError:
            body['process_list'] = []
        self.bus.send_to(event.link_id,
                         framing.encode(InternalMessages.CHECK_ANSWER, self.mapper.local_identifier, body))

    def _xmlrpc_check(self, identifier: str, check_id: int) -> None:
        """ The link to the peer is not up: question it over XML-RPC instead. """
        instance = self.mapper.instances.get(identifier)
        if instance is None or self.pool is None:
            return
        action = act.CheckInstance(identifier, check_id)
        future = self.pool.submit(self.peers.handshake, self.mapper.local_identifier, action.identifier,
                                  instance.host_name, instance.http_port, action.check_id)

        def done(fut):
            try:
                result = fut.result()
            except Exception as exc:
                self.logger.error(f'SupvisorsRuntime: handshake with {action.identifier} failed: {exc!r}')
                result = act.CheckResult(action.identifier, action.check_id, None)
            self._deliver(result)
        future.add_done_callback(done)
