"""Host and process statistics: collection of samples (psutil), compilation per period and derived figures.

The collector is the only part depending on psutil, so that statistics received from other instances can be
compiled and displayed even where psutil is missing.
"""
