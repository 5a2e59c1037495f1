-- The index's marketing copy as text, rendered in HTML over the artwork (the pictures carry no text):
-- a slogan and a sub-slogan per floor poster, a title and a subtitle per carousel slide and promotion tile.
-- Empty strings mean "no copy"; `python -m fresh seed` fills the demo catalog's.
ALTER TABLE goods_types
    ADD COLUMN slogan     VARCHAR(20) NOT NULL DEFAULT '',
    ADD COLUMN slogan_sub VARCHAR(40) NOT NULL DEFAULT '';

ALTER TABLE index_banners
    ADD COLUMN title    VARCHAR(20) NOT NULL DEFAULT '',
    ADD COLUMN subtitle VARCHAR(40) NOT NULL DEFAULT '';

ALTER TABLE index_promotions
    ADD COLUMN title    VARCHAR(20) NOT NULL DEFAULT '',
    ADD COLUMN subtitle VARCHAR(40) NOT NULL DEFAULT '';
