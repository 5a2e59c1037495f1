-- Every table of DESIGN.md section 3. Later changes come as new migrations only.

CREATE TABLE users (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(20)  NOT NULL,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    is_active     TINYINT(1)   NOT NULL DEFAULT 0,
    is_staff      TINYINT(1)   NOT NULL DEFAULT 0,
    created_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE addresses (
    id          INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id     INT UNSIGNED NOT NULL,
    receiver    VARCHAR(20)  NOT NULL,
    addr        VARCHAR(256) NOT NULL,
    zip_code    CHAR(6)      NOT NULL,
    phone       CHAR(11)     NOT NULL,
    is_default  TINYINT(1)   NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_addresses_user (user_id, is_default),
    CONSTRAINT fk_addresses_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE goods_types (
    id     INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name   VARCHAR(20)  NOT NULL,
    logo   VARCHAR(20)  NOT NULL DEFAULT '',
    image  VARCHAR(255) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE goods (
    id      INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name    VARCHAR(50)  NOT NULL,
    detail  TEXT         NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE goods_sku (
    id          INT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    type_id     INT UNSIGNED  NOT NULL,
    goods_id    INT UNSIGNED  NOT NULL,
    name        VARCHAR(50)   NOT NULL,
    `desc`      VARCHAR(256)  NOT NULL DEFAULT '',
    price       DECIMAL(10,2) NOT NULL CHECK (price >= 0),
    unite       VARCHAR(20)   NOT NULL,
    image       VARCHAR(255)  NOT NULL DEFAULT '',
    stock       INT UNSIGNED  NOT NULL DEFAULT 0 CHECK (stock >= 0),
    sales       INT UNSIGNED  NOT NULL DEFAULT 0,
    status      TINYINT(1)    NOT NULL DEFAULT 1 COMMENT '1 on sale, 0 off sale',
    created_at  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_sku_type_status (type_id, status, id),
    KEY ix_sku_type_price (type_id, status, price),
    KEY ix_sku_type_sales (type_id, status, sales),
    KEY ix_sku_goods (goods_id),
    CONSTRAINT fk_sku_type FOREIGN KEY (type_id) REFERENCES goods_types (id),
    CONSTRAINT fk_sku_goods FOREIGN KEY (goods_id) REFERENCES goods (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE goods_images (
    id      INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku_id  INT UNSIGNED NOT NULL,
    image   VARCHAR(255) NOT NULL,
    KEY ix_goods_images_sku (sku_id),
    CONSTRAINT fk_goods_images_sku FOREIGN KEY (sku_id) REFERENCES goods_sku (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE index_banners (
    id       INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku_id   INT UNSIGNED NOT NULL,
    image    VARCHAR(255) NOT NULL,
    `index`  SMALLINT     NOT NULL DEFAULT 0,
    CONSTRAINT fk_banners_sku FOREIGN KEY (sku_id) REFERENCES goods_sku (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE index_type_goods (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    type_id       INT UNSIGNED NOT NULL,
    sku_id        INT UNSIGNED NOT NULL,
    display_type  TINYINT(1)   NOT NULL DEFAULT 1 COMMENT '0 title link, 1 picture',
    `index`       SMALLINT     NOT NULL DEFAULT 0,
    KEY ix_type_goods_type (type_id, display_type, `index`),
    CONSTRAINT fk_type_goods_type FOREIGN KEY (type_id) REFERENCES goods_types (id) ON DELETE CASCADE,
    CONSTRAINT fk_type_goods_sku FOREIGN KEY (sku_id) REFERENCES goods_sku (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE index_promotions (
    id       INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name     VARCHAR(20)  NOT NULL,
    url      VARCHAR(256) NOT NULL,
    image    VARCHAR(255) NOT NULL,
    `index`  SMALLINT     NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_info (
    order_id        VARCHAR(64)   NOT NULL PRIMARY KEY,
    user_id         INT UNSIGNED  NOT NULL,
    -- Address snapshot: later edits to the address book do not rewrite history.
    receiver        VARCHAR(20)   NOT NULL,
    addr            VARCHAR(256)  NOT NULL,
    zip_code        CHAR(6)       NOT NULL,
    phone           CHAR(11)      NOT NULL,
    pay_method      TINYINT       NOT NULL COMMENT '1 货到付款 2 微信支付 3 支付宝 4 银联支付',
    total_count     INT UNSIGNED  NOT NULL DEFAULT 0,
    total_price     DECIMAL(10,2) NOT NULL DEFAULT 0.00 COMMENT 'goods only',
    transit_price   DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    order_status    TINYINT       NOT NULL DEFAULT 1 COMMENT '1 待支付 2 待发货 3 待收货 4 待评价 5 已完成 6 已取消',
    trade_no        VARCHAR(64)   NULL,
    idem_key        VARCHAR(64)   NULL,
    created_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at      DATETIME(6)   NOT NULL,
    pay_started_at  DATETIME(6)   NULL,
    paid_at         DATETIME(6)   NULL,
    UNIQUE KEY uq_order_idem (user_id, idem_key),
    KEY ix_order_user (user_id, created_at),
    KEY ix_order_status_expiry (order_status, expires_at),
    KEY ix_order_paying (order_status, pay_started_at),
    CONSTRAINT fk_order_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_goods (
    id          INT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id    VARCHAR(64)   NOT NULL,
    sku_id      INT UNSIGNED  NOT NULL,
    count       INT UNSIGNED  NOT NULL CHECK (count > 0),
    price       DECIMAL(10,2) NOT NULL,
    comment     VARCHAR(256)  NOT NULL DEFAULT '',
    created_at  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_order_goods (order_id, sku_id),
    KEY ix_order_goods_sku (sku_id),
    CONSTRAINT fk_order_goods_order FOREIGN KEY (order_id) REFERENCES order_info (order_id) ON DELETE CASCADE,
    CONSTRAINT fk_order_goods_sku FOREIGN KEY (sku_id) REFERENCES goods_sku (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_events (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id     VARCHAR(64)  NOT NULL,
    from_status  TINYINT      NULL,
    to_status    TINYINT      NOT NULL,
    source       ENUM('web', 'notify', 'watcher', 'admin', 'expiry') NOT NULL,
    detail       VARCHAR(255) NOT NULL DEFAULT '',
    at           DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_order_events_order (order_id, id),
    CONSTRAINT fk_order_events_order FOREIGN KEY (order_id) REFERENCES order_info (order_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
