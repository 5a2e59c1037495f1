-- Orders and payments end to end (#13): refunds as a state, refund requests that are retried until the gateway
-- confirms them, and a per-order backoff for the expiry when the gateway cannot close a trade.

ALTER TABLE order_info
    MODIFY order_status TINYINT NOT NULL DEFAULT 1
        COMMENT '1 待支付 2 待发货 3 待收货 4 待评价 5 已完成 6 已取消 7 已退款',
    ADD COLUMN refunded_amount DECIMAL(10,2) NOT NULL DEFAULT 0.00
        COMMENT 'refunds the gateway confirmed, full or partial',
    ADD COLUMN refunded_at DATETIME(6) NULL,
    ADD COLUMN close_attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0
        COMMENT 'expiry tries that could not stop the payment at the gateway',
    ADD COLUMN close_retry_at DATETIME(6) NULL
        COMMENT 'the expiry leaves the order alone until then (backoff after a gateway failure)';

ALTER TABLE order_events
    MODIFY source ENUM('web', 'notify', 'watcher', 'admin', 'expiry', 'refund') NOT NULL;

-- One row per refund of an order: asked for by the shop (automatic for money paid after a close, or by staff) and
-- sent to the gateway until it confirms, or found at the gateway (a refund made in Alipay's own back office).
-- out_request_no is the gateway's idempotency key: sending the same request twice moves the money once.
CREATE TABLE order_refunds (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id        VARCHAR(64)   NOT NULL,
    out_request_no  VARCHAR(64)   NOT NULL,
    amount          DECIMAL(10,2) NOT NULL CHECK (amount > 0),
    reason          VARCHAR(255)  NOT NULL DEFAULT '',
    origin          ENUM('paid_after_close', 'admin', 'gateway') NOT NULL,
    status          TINYINT       NOT NULL DEFAULT 1 COMMENT '1 pending 2 confirmed 3 refused by the gateway',
    attempts        SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    next_try_at     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_error      VARCHAR(255)  NOT NULL DEFAULT '',
    created_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    confirmed_at    DATETIME(6)   NULL,
    UNIQUE KEY uq_refund_request (order_id, out_request_no),
    KEY ix_refund_due (status, next_try_at),
    CONSTRAINT fk_refund_order FOREIGN KEY (order_id) REFERENCES order_info (order_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
