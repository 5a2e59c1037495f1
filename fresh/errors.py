"""Domain errors. Domain code raises these; BaseHandler.write_error turns them into HTTP replies."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure with an HTTP status, a `res` code for the AJAX contract and a Chinese message."""

    status = 400
    res = 1
    message = "请求无效"

    def __init__(self, message: str | None = None, *, res: int | None = None, status: int | None = None, **extra):
        super().__init__(message or self.message)
        self.message = message or self.message
        if res is not None:
            self.res = res
        if status is not None:
            self.status = status
        self.extra = extra


class BadRequest(DomainError):
    status = 400
    message = "请求参数有误"


class NotLoggedIn(DomainError):
    status = 401
    res = 0
    message = "用户未登录"


class Forbidden(DomainError):
    status = 403
    message = "没有权限"


class NotFound(DomainError):
    status = 404
    message = "您访问的内容不存在"


class Conflict(DomainError):
    status = 409
    message = "操作冲突，请重试"


class TooManyRequests(DomainError):
    status = 429
    message = "操作过于频繁，请稍后再试"


class Unavailable(DomainError):
    status = 503
    message = "服务暂时不可用，请稍后再试"

