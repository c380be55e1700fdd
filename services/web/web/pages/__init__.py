"""Every page module's router. A new page area: add its module here (see services/web/README.md)."""

from fastapi import APIRouter

from web.pages import (
    asn,
    auth,
    cart,
    checkout,
    finance,
    finance_checks,
    inbox,
    operator,
    orders,
    pickup,
    programme,
    programme_office,
    seller,
    seller_products,
    shop,
    till,
    till_sales,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    shop.router,
    cart.router,
    checkout.router,
    orders.router,
    pickup.router,
    till.router,
    till_sales.router,
    inbox.router,
    seller.router,
    seller_products.router,
    finance.router,
    finance_checks.router,
    operator.router,
    asn.router,
    programme.router,
    programme_office.router,
]
