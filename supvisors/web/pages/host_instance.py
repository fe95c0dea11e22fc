"""Supervisor page, host section (interfaces 3.8): memory, processor and network statistics of the local host.

Values are '<v:.2f>' without unit (the unit is in the column headers); the last values carry their trend class.
The three images are rendered at each render when matplotlib exists. Ids and classes: see statistics_view.
"""

from typing import List, Optional, Sequence, Tuple

from ..html import classes, tag, text
from ..plots import HOST_CPU_IMAGE, HOST_IO_IMAGE, HOST_MEM_IMAGE, matplotlib_available
from ..viewcontext import CPU, INTF
from .statistics_view import HOST_VIEW, SupervisorPage, figure_cells, row_class, series_figures, stats_table

PERCENT_HEADERS = ('Mean %', 'Slope %', 'SD %')


class HostInstancePage(SupervisorPage):
    page_name = 'host_instance.html'
    view = HOST_VIEW

    def render_contents(self) -> str:
        ctx = self.ctx
        stats = self.statistics.get_stats(ctx.local_identifier, ctx.period) if ctx.period else None
        cpu = stats.cpu if stats is not None else []
        mem = stats.mem if stats is not None else []
        io = stats.io if stats is not None else {}
        images = matplotlib_available()
        return (self._memory_block(mem, images) + self._processor_block(cpu, images)
                + self._network_block(io, images))

    def _image(self, name: str, series: List[Tuple[str, List[float]]], unit: str, render: bool) -> str:
        """ Render the image now and refer to it; nothing when images cannot be rendered. """
        if not render:
            return ''
        self.dashboard.images.render(name, series, unit, self.dashboard.logger)
        return tag('img', '', src=name, alt=series[0][0] if series else name, class_='plot')

    @staticmethod
    def _block(title: str, id_: str, table: str, image: str) -> str:
        return tag('div', text('h3', title) + table + image, class_='stats_block', id=id_)

    # ------------------------------------------------------------------ blocks
    def _memory_block(self, mem: Sequence[float], images: bool) -> str:
        label = text('a', 'mem', class_='button off active')
        row = tag('tr', tag('th', label, class_='label') + figure_cells(series_figures(mem)), class_=row_class(0))
        table = stats_table(('', 'Occ %') + PERCENT_HEADERS, [row])
        return self._block('Memory Statistics', 'memory_stats', table,
                           self._image(HOST_MEM_IMAGE, [('MEM', list(mem))], '%', images))

    def _processor_block(self, cpu: Sequence[Sequence[float]], images: bool) -> str:
        ctx = self.ctx
        selected = ctx.get(CPU) or 0
        rows = []
        for cpuid, series in enumerate(cpu):
            label = 'cpu#all' if cpuid == 0 else f'cpu#{cpuid - 1}'
            button = self.action_button(label, ctx.format_url(None, self.page_name, cpuid=cpuid),
                                        active=cpuid == selected)
            rows.append(tag('tr', tag('th', button, class_='label') + figure_cells(series_figures(series)),
                            class_=row_class(cpuid)))
        table = stats_table(('#', 'Last %') + PERCENT_HEADERS, rows)
        image = ''
        if selected < len(cpu):
            title = 'CPU #all' if selected == 0 else f'CPU #{selected - 1}'
            image = self._image(HOST_CPU_IMAGE, [(title, list(cpu[selected]))], '%', images)
        return self._block('Processor Statistics', 'processor_stats', table, image)

    def _network_block(self, io, images: bool) -> str:
        ctx = self.ctx
        selected: Optional[str] = ctx.get(INTF)
        rows = []
        for index, interface in enumerate(sorted(io)):
            recv, sent = io[interface]
            button = self.action_button(interface, ctx.format_url(None, self.page_name, intfname=interface),
                                        active=interface == selected)
            shade = row_class(index)
            for way, series in (('Rx', recv), ('Tx', sent)):
                cells = tag('th', button, rowspan='2', class_='label') if way == 'Rx' else ''
                rows.append(tag('tr', cells + text('td', way, class_='way') + figure_cells(series_figures(series)),
                                class_=classes(shade, way.lower())))
        table = stats_table(('Interface', 'Rx/Tx', 'Last kbit/s', 'Mean kbit/s', 'Slope %', 'SD kbit/s'), rows)
        image = ''
        if selected in io:
            recv, sent = io[selected]
            image = self._image(HOST_IO_IMAGE, [(f'{selected} recv', list(recv)), (f'{selected} sent', list(sent))],
                                'kbits/s', images)
        return self._block('Network Statistics', 'network_stats', table, image)
