"""The JSON API root: each app adds its router here."""

from ninja import NinjaAPI

from simulations.api import router as simulations_router
from topics.api import router as topics_router

api = NinjaAPI(
    title="Systems & Networking API",
    version="1.0",
    description="Topics, categories, related items and live simulations.",
    urls_namespace="api",
)
api.add_router("/", topics_router)
api.add_router("/simulations", simulations_router)
