"""The back office at /admin (staff only): goods, stock and pictures, categories and index content, orders,
users, the sales dashboard and the audit log."""

from tornado.web import url

from fresh.admin import handlers as h

_ORDER = r"([0-9A-Za-z_-]{1,64})"

ROUTES = [
    url(r"/admin/?", h.DashboardHandler, name="admin_dashboard"),
    url(r"/admin/goods", h.GoodsListHandler, name="admin_goods"),
    url(r"/admin/goods/sale", h.GoodsSaleHandler, name="admin_goods_sale"),
    url(r"/admin/goods/new", h.SkuFormHandler, name="admin_sku_new"),
    url(r"/admin/goods/([0-9]+)", h.SkuFormHandler, name="admin_sku"),
    url(r"/admin/goods/([0-9]+)/pictures", h.SkuPicturesHandler, name="admin_sku_pictures"),
    url(r"/admin/goods/([0-9]+)/pictures/([0-9]+)", h.SkuPictureActionHandler, name="admin_sku_picture"),
    url(r"/admin/goods/([0-9]+)/stock", h.StockHandler, name="admin_sku_stock"),
    url(r"/admin/spu", h.SpuListHandler, name="admin_spus"),
    url(r"/admin/spu/new", h.SpuFormHandler, name="admin_spu_new"),
    url(r"/admin/spu/([0-9]+)", h.SpuFormHandler, name="admin_spu"),
    url(r"/admin/content/([a-z_]+)", h.ContentListHandler, name="admin_content"),
    url(r"/admin/content/([a-z_]+)/new", h.ContentFormHandler, name="admin_content_new"),
    url(r"/admin/content/([a-z_]+)/([0-9]+)", h.ContentFormHandler, name="admin_content_edit"),
    url(r"/admin/content/([a-z_]+)/([0-9]+)/move", h.ContentActionHandler, {"action": "move"},
        name="admin_content_move"),
    url(r"/admin/content/([a-z_]+)/([0-9]+)/delete", h.ContentActionHandler, {"action": "delete"},
        name="admin_content_delete"),
    url(r"/admin/orders", h.OrderListHandler, name="admin_orders"),
    url(rf"/admin/orders/{_ORDER}", h.OrderDetailHandler, name="admin_order"),
    url(rf"/admin/orders/{_ORDER}/ship", h.OrderShipHandler, name="admin_order_ship"),
    url(rf"/admin/orders/{_ORDER}/cancel", h.OrderCancelHandler, name="admin_order_cancel"),
    url(rf"/admin/orders/{_ORDER}/refund", h.OrderRefundHandler, name="admin_order_refund"),
    url(rf"/admin/orders/{_ORDER}/cod-paid", h.OrderCodPaidHandler, name="admin_order_cod_paid"),
    url(r"/admin/users", h.UserListHandler, name="admin_users"),
    url(r"/admin/users/([0-9]+)/active", h.UserActionHandler, {"what": "active"}, name="admin_user_active"),
    url(r"/admin/users/([0-9]+)/staff", h.UserActionHandler, {"what": "staff"}, name="admin_user_staff"),
    url(r"/admin/audit", h.AuditListHandler, name="admin_audit"),
]
