"""Every page module's router. A new page area: add its module here (see services/web/README.md)."""

from fastapi import APIRouter

from web.pages import auth, cart, checkout, inbox, orders, shop

ROUTERS: list[APIRouter] = [
    auth.router,
    shop.router,
    cart.router,
    checkout.router,
    orders.router,
    inbox.router,
]
