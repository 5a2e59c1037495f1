"""Accounts pages: register, activate, login, logout, user center, address book."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fresh import sessions
from fresh.accounts import addresses, ratelimit, tokens, users
from fresh.errors import BadRequest, NotFound
from fresh.mail import send_mail
from fresh.web import BaseHandler, is_safe_next, login_required

log = logging.getLogger("fresh.accounts")
REMEMBER_COOKIE = "username"


class RegisterHandler(BaseHandler):
    async def get(self) -> None:
        await self.render("accounts/register.html", form={}, errors={})

    async def render_stale_form(self, message: str) -> bool:
        form = {k: self.arg(k) for k in ("username", "email", "allow")}  # never the passwords
        await self.render("accounts/register.html", form=form, errors={"form": message})
        return True

    async def post(self) -> None:
        form = {k: self.arg(k) for k in ("username", "email", "allow")}
        form["pwd"] = self.get_argument("pwd", "")
        form["cpwd"] = self.get_argument("cpwd", "")
        try:
            clean = users.clean_registration(form)
            # Counted before the name check and the hash: every well-formed attempt costs the attacker a slot.
            await ratelimit.take(self.redis, ratelimit.register_checks(self.cfg.accounts, ip=self.remote_ip,
                                                                       email=clean["email"]),
                                 "注册过于频繁，请稍后再试")
            user_id = await users.register_user(
                self.db, self.cfg.accounts, username=clean["username"], password=clean["pwd"], email=clean["email"],
                gate=self.application.hash_gate,
            )
        except ratelimit.Throttled as exc:
            self.set_status(429)
            self.set_header("Retry-After", str(exc.retry_after))
            form.pop("pwd"), form.pop("cpwd")
            await self.render("accounts/register.html", form=form,
                              errors={"form": f"注册过于频繁，请{ratelimit.minutes(exc.retry_after)}分钟后再试"})
            return
        except users.RegistrationError as exc:
            self.set_status(409 if exc.fields.get("username") == "用户名已存在" else 400)
            form.pop("pwd"), form.pop("cpwd")
            await self.render("accounts/register.html", form=form, errors=exc.fields)
            return
        await send_activation(self, user_id=user_id, username=clean["username"], email=clean["email"])
        await self.render("accounts/notice.html", title="注册成功",
                          message=f"激活邮件已发送到 {clean['email']}，请在1小时内点击邮件中的链接激活账户。",
                          resend=True)


async def send_activation(handler: BaseHandler, *, user_id: int, username: str, email: str) -> None:
    cfg = handler.cfg
    token = tokens.make_activation_token(cfg.web.cookie_secret, user_id, cfg.accounts.activation_ttl)
    link = cfg.web.base_url.rstrip("/") + handler.reverse_url("activate", token)
    body = (
        f"{username}，欢迎您成为天天生鲜注册会员。\n\n"
        f"请在1小时内点击下面的链接激活您的账户：\n{link}\n\n"
        "如果这不是您本人的操作，请忽略本邮件。\n"
    )
    await send_mail(cfg, to=email, subject="天天生鲜欢迎信息", body=body)
    if not cfg.mail.smtp_host:
        log.info("activation link for %s: %s", username, link)


class ActivateHandler(BaseHandler):
    secret_path = True  # the token in the path activates the account: never in the access log

    async def get(self, token: str) -> None:
        try:
            user_id = tokens.read_activation_token(self.cfg.web.cookie_secret, token)
        except tokens.TokenExpired:
            self.set_status(400)
            await self.render("accounts/notice.html", title="激活链接已过期",
                              message="激活链接已过期，请重新发送激活邮件。", resend=True)
            return
        except tokens.TokenError:
            self.set_status(400)
            await self.render("accounts/notice.html", title="激活链接无效",
                              message="激活链接无效，请检查链接是否完整，或重新发送激活邮件。", resend=True)
            return
        if await users.get_user(self.db, user_id) is None:
            raise NotFound("账户不存在")
        if await users.activate_user(self.db, user_id):
            await self.render("accounts/notice.html", title="激活成功", message="账户已激活，请登录。",
                              login=True)
        else:
            await self.render("accounts/notice.html", title="链接已使用", message="该账户已经激活，请直接登录。",
                              login=True)


class ResendActivationHandler(BaseHandler):
    async def get(self) -> None:
        await self.render("accounts/resend.html", username="", sent=False)

    async def post(self) -> None:
        username = self.arg("username")
        if not username:
            self.set_status(400)
            await self.render("accounts/resend.html", username="", sent=False, error="请输入用户名")
            return
        acc = self.cfg.accounts
        try:
            await ratelimit.take(self.redis, ratelimit.resend_ip_check(acc, self.remote_ip), "")
            user = await users.get_user_by_name(self.db, username) if users.USERNAME_RE.match(username) else None
            if user is not None and not user["is_active"]:
                # Per address too: many IPs must not be able to bomb one mailbox.
                await ratelimit.take(self.redis, ratelimit.resend_email_check(acc, user["email"]), "")
                await send_activation(self, user_id=user["id"], username=user["username"], email=user["email"])
        except ratelimit.Throttled as exc:
            self.set_status(429)
            self.set_header("Retry-After", str(exc.retry_after))
            await self.render("accounts/resend.html", username=username, sent=False,
                              error=f"发送过于频繁，请{ratelimit.minutes(exc.retry_after)}分钟后再试")
            return
        # The same answer whether or not the name exists, so this page cannot be used to probe usernames.
        await self.render("accounts/resend.html", username=username, sent=True)


class LoginHandler(BaseHandler):
    async def get(self) -> None:
        if self.current_user:
            self.redirect_to_next("/")
            return
        remembered = self.get_cookie(REMEMBER_COOKIE, "")
        await self.render("accounts/login.html", username=remembered, remember=bool(remembered), error="")

    async def render_stale_form(self, message: str) -> bool:
        await self.render("accounts/login.html", username=self.arg("username"),
                          remember=self.get_argument("remember", "") == "on", error=message)
        return True

    async def post(self) -> None:
        username, password = self.arg("username"), self.get_argument("pwd", "")
        remember = self.get_argument("remember", "") == "on"
        acc = self.cfg.accounts
        checks = ratelimit.login_checks(acc, username=username, ip=self.remote_ip)
        error, status = "", 200
        if not username or not password:
            error, status = "数据不完整", 400
        elif wait := await ratelimit.retry_after(self.redis, checks):
            # Refused before any hash: a flood of wrong passwords (for one name or for many) stops costing argon2.
            self.set_header("Retry-After", str(wait))
            error, status = f"登录失败次数过多，请{ratelimit.minutes(wait)}分钟后再试", 429
        else:
            user = await users.authenticate(self.db, acc, username, password, gate=self.application.hash_gate)
            if user is None:
                await ratelimit.hit(self.redis, checks)
                error, status = "用户名或密码错误", 401
            elif not user["is_active"]:
                error, status = "账户未激活，请先查收邮件激活账户", 403
        if error:
            self.set_status(status)
            await self.render("accounts/login.html", username=username, remember=remember, error=error,
                              inactive=status == 403)
            return
        # The username's failures end with a success; the IP's stay (one good account must not reset them).
        await ratelimit.clear(self.redis, checks[:1])
        await self.log_in(user)
        if remember:
            self.set_cookie(REMEMBER_COOKIE, user["username"], expires_days=30, httponly=True)
        else:
            self.clear_cookie(REMEMBER_COOKIE)
        self.redirect_to_next("/")

    async def log_in(self, user: dict) -> None:
        """Start a new session (a fresh id: no fixation), hand the guest's data over, end the old one."""
        old = self.session
        new = await sessions.create_session(
            self.redis, user_id=user["id"], username=user["username"], is_staff=bool(user["is_staff"]),
            ttl=self.cfg.accounts.session_ttl_days * 86400,
        )
        for hook in self.application.hooks.on_login:
            await hook(self.application, old, new)
        if old is not None:
            await sessions.destroy_session(self.redis, old)
        self.set_session_cookie(new)


class LogoutHandler(BaseHandler):
    """POST only (with `_xsrf`): a GET that logs out could be fired by any page with an image tag."""

    async def post(self) -> None:
        if self.session is not None:
            await sessions.destroy_session(self.redis, self.session)
        self.set_session_cookie(None)
        self.redirect("/")


class UserInfoHandler(BaseHandler):
    @login_required
    async def get(self) -> None:
        user = await users.get_user(self.db, self.user_id)
        if user is None:
            raise NotFound("用户不存在")
        recent = self.application.hooks.user_history
        history = await recent(self.application, self.user_id) if recent else []
        await self.render("accounts/user_info.html", user=user, page="user",
                          address=await addresses.get_default_address(self.db, self.user_id), history=history)


# ?done= after a change to the address book -> the message the page shows.
ADDRESS_DONE = {"saved": "地址已保存", "deleted": "地址已删除", "default": "已设为默认地址"}


class AddressBookHandler(BaseHandler):
    def back_to_book(self, done: str) -> None:
        """To the address page saying `done`, keeping a `next` it was opened with."""
        query = {"done": done}
        target = self.get_argument("next", "", strip=True)
        if is_safe_next(target):
            query["next"] = target
        self.redirect(self.reverse_url("address") + "?" + urlencode(query))


class AddressHandler(AddressBookHandler):
    """GET/POST /user/address: the address book and the form adding one. `next` (a path on this site, e.g. the
    confirmation page) is where a successful save goes back to."""

    @login_required
    async def get(self) -> None:
        await self.show(form={}, errors={})

    @login_required
    async def post(self) -> None:
        form = self.typed()
        try:
            fields = addresses.clean_address(form)
            addr_id = await addresses.add_address(self.db, user_id=self.user_id, fields=fields,
                                                  make_default=form["is_default"] == "on")
        except addresses.AddressError as exc:
            self.set_status(400)
            await self.show(form=form, errors=exc.fields)
            return
        except BadRequest as exc:
            self.set_status(exc.status)
            await self.show(form=form, errors={"form": exc.message})
            return
        self.after_save(addr_id)

    def after_save(self, addr_id: int) -> None:
        """Back to `next` (the confirmation page gets the saved address chosen and says so), else the book."""
        target = self.get_argument("next", "", strip=True)
        if is_safe_next(target) and target.startswith(self.reverse_url("order_place") + "?"):
            self.redirect(target + "&" + urlencode({"addr_id": addr_id}))
        else:
            self.back_to_book("saved")

    def typed(self) -> dict[str, str]:
        form = {k: self.arg(k) for k in ("receiver", "addr", "zip_code", "phone")}
        form["is_default"] = self.get_argument("is_default", "")
        return form

    async def render_stale_form(self, message: str) -> bool:
        if not self.current_user:
            return False
        await self.show(form=self.typed(), errors={"form": message})
        return True

    async def show(self, *, form: dict, errors: dict, editing: dict | None = None) -> None:
        rows = await addresses.list_addresses(self.db, self.user_id)
        default = next((a for a in rows if a["is_default"]), None)
        next_url = self.get_argument("next", "", strip=True)
        await self.render("accounts/address.html", page="address", addresses=rows, default=default,
                          form=form, errors=errors, editing=editing, done=ADDRESS_DONE.get(self.arg("done"), ""),
                          next_url=next_url if is_safe_next(next_url) else "")


class AddressEditHandler(AddressHandler):
    """GET/POST /user/address/<id>: the same page with the form editing one address."""

    @login_required
    async def get(self, addr_id: str) -> None:
        address = await self.owned(addr_id)
        await self.show(form={**address, "is_default": "on" if address["is_default"] else ""}, errors={},
                        editing=address)

    @login_required
    async def post(self, addr_id: str) -> None:
        address = await self.owned(addr_id)
        form = self.typed()
        try:
            fields = addresses.clean_address(form)
            await addresses.update_address(self.db, user_id=self.user_id, addr_id=address["id"], fields=fields,
                                           make_default=form["is_default"] == "on")
        except addresses.AddressError as exc:
            self.set_status(400)
            await self.show(form=form, errors=exc.fields, editing=address)
            return
        self.after_save(address["id"])

    async def render_stale_form(self, message: str) -> bool:
        if not self.current_user:
            return False
        address = await self.owned(self.path_args[0])
        await self.show(form=self.typed(), errors={"form": message}, editing=address)
        return True

    async def owned(self, addr_id: str) -> dict:
        if len(addr_id) > 9:
            raise NotFound("地址不存在")
        return await addresses.get_address(self.db, user_id=self.user_id, addr_id=int(addr_id))


class AddressDeleteHandler(AddressBookHandler):
    @login_required
    async def post(self, addr_id: str) -> None:
        if len(addr_id) > 9:
            raise NotFound("地址不存在")
        await addresses.delete_address(self.db, user_id=self.user_id, addr_id=int(addr_id))
        self.back_to_book("deleted")


class AddressDefaultHandler(AddressBookHandler):
    @login_required
    async def post(self) -> None:
        addr_id = self.int_arg("addr_id")
        if addr_id is None:
            raise BadRequest("地址不存在")
        await addresses.set_default_address(self.db, user_id=self.user_id, addr_id=addr_id)
        self.back_to_book("default")
