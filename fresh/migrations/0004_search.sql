-- Search (#21): one row per on-sale SKU with the text a shopper searches (fresh/catalog/search.py keeps it
-- current; `python -m fresh reindex` rebuilds it). It is derived data: goods_sku stays the truth.
--
-- With the Mroonga engine (Debian's mariadb-plugin-mroonga, scripts/ensure-mroonga.sh) the table carries a
-- full-text index that splits Chinese text into bigrams; name and the rest are two sections of one index so a name
-- match can weigh more. Without it the table is plain InnoDB and the shop searches it with LIKE. The two
-- definitions are kept in step with SEARCH_TABLE_DDL in fresh/catalog/search.py, which `reindex` uses to move the
-- table onto Mroonga once the engine has been installed.
SET @search_ddl = IF(
    EXISTS(SELECT 1 FROM information_schema.engines WHERE engine = 'Mroonga' AND support IN ('YES', 'DEFAULT')),
    'CREATE TABLE IF NOT EXISTS sku_search (
        sku_id  INT UNSIGNED  NOT NULL PRIMARY KEY,
        title   VARCHAR(255)  NOT NULL,
        body    TEXT          NOT NULL,
        price   DECIMAL(10,2) NOT NULL,
        FULLTEXT INDEX ft_search (title, body)
            COMMENT ''tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "NormalizerAuto"''
    ) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE TABLE IF NOT EXISTS sku_search (
        sku_id  INT UNSIGNED  NOT NULL PRIMARY KEY,
        title   VARCHAR(255)  NOT NULL,
        body    TEXT          NOT NULL,
        price   DECIMAL(10,2) NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci');
EXECUTE IMMEDIATE @search_ddl;

-- Filling a large catalog may outlast the statement limit of the shop's connections (a few seconds per 100,000
-- SKUs), and Mroonga keeps what an interrupted statement wrote: no limit here, and REPLACE so that running the
-- migration again after an interruption completes the table instead of failing.
SET STATEMENT max_statement_time = 0 FOR
REPLACE INTO sku_search (sku_id, title, body, price)
SELECT s.id, s.name, CONCAT_WS(' ', s.`desc`, g.name, t.name), s.price
  FROM goods_sku s JOIN goods g ON g.id = s.goods_id JOIN goods_types t ON t.id = s.type_id
 WHERE s.status = 1;
