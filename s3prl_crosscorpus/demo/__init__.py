"""The built-in synthetic default: synthetic corpora in the real layouts, tiny randomly initialised
upstreams, and the end-to-end demo of both systems.

May import every library package of the project; nothing in the library imports it.
"""
