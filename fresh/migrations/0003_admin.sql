-- Back office (#15): the audit log, stock adjustments, shipments (carrier and tracking number), picture and
-- category order. Every statement may run again (IF NOT EXISTS), so a run that stopped part-way is re-run as is.

CREATE TABLE IF NOT EXISTS audit_log (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id    INT UNSIGNED    NOT NULL,
    staff_name  VARCHAR(20)     NOT NULL,
    action      VARCHAR(32)     NOT NULL,
    entity      VARCHAR(32)     NOT NULL,
    entity_id   VARCHAR(64)     NOT NULL,
    summary     VARCHAR(255)    NOT NULL DEFAULT '',
    before_json TEXT            NULL,
    after_json  TEXT            NULL,
    at          DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_audit_entity (entity, entity_id, id),
    KEY ix_audit_staff (staff_id, id),
    KEY ix_audit_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS stock_adjustments (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku_id        INT UNSIGNED    NOT NULL,
    reason        ENUM('in', 'count', 'loss') NOT NULL,
    delta         INT             NOT NULL,
    stock_before  INT UNSIGNED    NOT NULL,
    stock_after   INT UNSIGNED    NOT NULL,
    note          VARCHAR(100)    NOT NULL DEFAULT '',
    staff_id      INT UNSIGNED    NOT NULL,
    at            DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_stock_adj_sku (sku_id, id),
    CONSTRAINT fk_stock_adj_sku FOREIGN KEY (sku_id) REFERENCES goods_sku (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_shipments (
    order_id     VARCHAR(64)   NOT NULL PRIMARY KEY,
    carrier      VARCHAR(20)   NOT NULL DEFAULT '',
    tracking_no  VARCHAR(40)   NOT NULL DEFAULT '',
    staff_id     INT UNSIGNED  NOT NULL,
    shipped_at   DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT fk_shipments_order FOREIGN KEY (order_id) REFERENCES order_info (order_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE goods_images ADD COLUMN IF NOT EXISTS position SMALLINT NOT NULL DEFAULT 0;

ALTER TABLE goods_types ADD COLUMN IF NOT EXISTS position SMALLINT NOT NULL DEFAULT 0;
