"""Catalog: the index page, category lists, goods detail, search, browsing history and the demo catalog."""

from tornado.web import url

from fresh.catalog import handlers as h
from fresh.catalog.history import user_history
from fresh.catalog.seed import seed_catalog
from fresh.catalog.static_index import keep_static_index
from fresh.hooks import Hooks

ROUTES = [
    url(r"/", h.IndexHandler, name="index"),
    url(r"/index", h.IndexHandler, name="index_alias"),
    url(r"/goods/([0-9]+)", h.DetailHandler, name="detail"),
    url(r"/list/([0-9]+)/([0-9]+)", h.ListHandler, name="list"),
    url(r"/search", h.SearchHandler, name="search"),
    *[url(f"/{name}", h.InfoPageHandler, {"name": name}, name=name) for name in h.INFO_PAGES],
]

HOOKS = Hooks(user_history=user_history)

BACKGROUND = [keep_static_index]

SEED = seed_catalog
