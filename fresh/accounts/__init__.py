"""Accounts: users, sessions at login and logout, activation, the user center and the address book."""

from tornado.web import url

from fresh.accounts import handlers as h
from fresh.accounts.seed import seed_accounts
from fresh.hooks import Redirect

ROUTES = [
    url(r"/user/register", h.RegisterHandler, name="register"),
    url(r"/user/active/([A-Za-z0-9._\-]{1,200})", h.ActivateHandler, name="activate"),
    url(r"/user/activate/resend", h.ResendActivationHandler, name="resend_activation"),
    url(r"/user/login", h.LoginHandler, name="login"),
    url(r"/user/logout", h.LogoutHandler, name="logout"),
    url(r"/user", h.UserInfoHandler, name="user"),
    Redirect(r"/user/", "/user"),
    url(r"/user/address", h.AddressHandler, name="address"),
    url(r"/user/address/default", h.AddressDefaultHandler, name="address_default"),
    url(r"/user/address/([0-9]+)", h.AddressEditHandler, name="address_edit"),
    url(r"/user/address/([0-9]+)/delete", h.AddressDeleteHandler, name="address_delete"),
]

SEED = seed_accounts
