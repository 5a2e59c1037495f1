"""Search: the `sku_search` table kept current with the catalog, and the queries that search it.

`sku_search` (migration 0004) holds one row per on-sale SKU: its name (`title`) and the rest a shopper may search
by (`body`: description, SPU name, category), plus its price for sorting. On MariaDB with the Mroonga engine it
carries a full-text index that splits Chinese text into bigrams (a search costs a few milliseconds however large
the catalog); elsewhere it is plain InnoDB and searched with LIKE, a scan per search (`SearchMode.LIKE`, also chosen
by the setting `catalog.search = "like"`). Both paths return the same SKUs.

Keeping it current: every catalog write that changes a SKU's text, price or sale status, or a SPU's or
category's name, calls `sync_search_index()` right after its transaction commits (Mroonga tables are not
transactional, so writing them inside a transaction that may still roll back could index text that never was).
`rebuild_search_index()` (`python -m fresh reindex`) builds the table afresh.
"""

from __future__ import annotations

import enum
import html
import logging
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import aiomysql
from markupsafe import Markup

from fresh import db
from fresh.catalog.goods import SKU_COLUMNS, with_urls
from fresh.paging import Page, page_of

log = logging.getLogger("fresh.catalog.search")

MAX_CHARS = 50  # longer input is cut (the form's maxlength says the same)
MAX_TERMS = 8  # words beyond these are ignored: every word is one more condition to meet
# Results are paged up to this many pages (a bounded page range: no deep OFFSET); nobody pages past it, narrowing the
# words is the way on. Nothing counts every match either: a page looks LOOKAHEAD pages ahead, which is what its
# pager shows.
MAX_PAGES = 50
LOOKAHEAD = 4
SORTS = ("relevance", "price", "hot", "new")
# A SKU's name weighs ten times the other text: a word in the name ranks above the same word in a description.
NAME_WEIGHT = 10


class SearchMode(enum.Enum):
    FULLTEXT = "fulltext"  # Mroonga's MATCH ... AGAINST on the bigram index
    LIKE = "like"  # LIKE '%word%' on every row: no plugin needed


# --- the table ----------------------------------------------------------------------------------------------

# The text of every on-sale SKU among the selected ones (a WHERE on s/g/t is appended). Kept in step with 0004.
_SOURCE_SQL = ("SELECT s.id, s.name, CONCAT_WS(' ', s.`desc`, g.name, t.name), s.price"
               " FROM goods_sku s JOIN goods g ON g.id = s.goods_id JOIN goods_types t ON t.id = s.type_id"
               " WHERE s.status = 1")
_COLUMNS = "(sku_id, title, body, price)"
_FULLTEXT_INDEX = ("FULLTEXT INDEX ft_search (title, body)"
                   " COMMENT 'tokenizer \"TokenBigramSplitSymbolAlphaDigit\", normalizer \"NormalizerAuto\"'")
_TABLE_COLUMNS = ("sku_id INT UNSIGNED NOT NULL PRIMARY KEY, title VARCHAR(255) NOT NULL, body TEXT NOT NULL,"
                  " price DECIMAL(10,2) NOT NULL")
# Table name -> its DDL per engine (constant strings: the names are ours, never input).
SEARCH_TABLE_DDL = {
    (table, mode): f"CREATE TABLE {table} ({_TABLE_COLUMNS}"
                   + (f", {_FULLTEXT_INDEX}) ENGINE=Mroonga" if mode is SearchMode.FULLTEXT else ") ENGINE=InnoDB")
                   + " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
    for table in ("sku_search", "sku_search_new") for mode in SearchMode
}
_FILL_SQL = {table: f"INSERT INTO {table} {_COLUMNS} {_SOURCE_SQL}" for table in ("sku_search", "sku_search_new")}


async def sync_search_index(pool: aiomysql.Pool, *, sku_ids: Iterable[int] = (), goods_ids: Iterable[int] = (),
                            type_ids: Iterable[int] = ()) -> int:
    """Bring the search rows of the given SKUs (and of every SKU of the given SPUs and categories) up to date.

    Call it right after committing any catalog write that changes what a shopper finds: a SKU created or edited
    (name, description, price, category, SPU), put on or taken off sale, deleted; a SPU or category renamed. On-sale
    SKUs get their current text, the others lose their row, so a change shows in the next search. Returns the
    number of on-sale SKUs indexed."""
    ids = sorted({int(i) for i in sku_ids})
    async with db.cursor(pool) as cur:
        for column, values in (("s.goods_id", goods_ids), ("s.type_id", type_ids)):
            values = sorted({int(v) for v in values})
            if values:
                sql = f"SELECT s.id FROM goods_sku s WHERE {column} IN ({_marks(values)})"  # noqa: S608 -- constants
                await cur.execute(sql, values)
                ids += [row["id"] for row in await cur.fetchall()]
        ids = sorted(set(ids))
        if not ids:
            return 0
        # REPLACE would do both in one statement, but a SKU now off sale must lose its row too.
        await cur.execute(f"DELETE FROM sku_search WHERE sku_id IN ({_marks(ids)})", ids)  # noqa: S608 -- only %s marks formatted in
        await cur.execute(f"{_FILL_SQL['sku_search']} AND s.id IN ({_marks(ids)})", ids)
        return cur.rowcount


async def rebuild_search_index(pool: aiomysql.Pool) -> tuple[SearchMode, int]:
    """Build `sku_search` afresh from the catalog (on Mroonga when the server has it) and swap it in at once.

    Searches keep answering from the old table while the new one fills. A catalog write whose sync lands between
    the fill and the swap is lost from the index until the next rebuild: run it when the back office is quiet."""
    mode = SearchMode.FULLTEXT if await mroonga_available(pool) else SearchMode.LIKE
    # Like a migration, a rebuild may take longer than a request's bounds (about 2 s per 100,000 SKUs on a quiet
    # machine, much more on a busy one): no client deadline, no server statement limit for the fill.
    async with db.connection(pool, bounded=False) as conn, conn.cursor() as cur:
        await cur.execute("DROP TABLE IF EXISTS sku_search_new")
        await cur.execute(SEARCH_TABLE_DDL["sku_search_new", mode])
        await cur.execute("SET STATEMENT max_statement_time=0 FOR " + _FILL_SQL["sku_search_new"])
        count = cur.rowcount
        await cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema=DATABASE()"
                          " AND table_name='sku_search'")
        if await cur.fetchone() is None:
            await cur.execute("RENAME TABLE sku_search_new TO sku_search")
        else:
            await cur.execute("DROP TABLE IF EXISTS sku_search_old")
            await cur.execute("RENAME TABLE sku_search TO sku_search_old, sku_search_new TO sku_search")
            await cur.execute("DROP TABLE sku_search_old")
    return mode, count


async def mroonga_available(pool: aiomysql.Pool) -> bool:
    """Whether the server has the Mroonga engine enabled."""
    row = await db.fetchone(pool, "SELECT 1 AS ok FROM information_schema.engines WHERE engine='Mroonga'"
                                  " AND support IN ('YES','DEFAULT')")
    return row is not None


# One decision per pool (i.e. per running application), made once: no module-level state shared between apps.
_MODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def search_mode(pool: aiomysql.Pool, setting: str) -> SearchMode:
    """How this process searches: full text when `sku_search` is a Mroonga table and the setting allows it.

    Decided on first use (app.py asks at start) from the table itself, not from the plugin alone: a database
    migrated before the plugin was installed keeps an InnoDB table until `python -m fresh reindex`. Logs one
    warning when full-text search is unavailable."""
    mode = _MODES.get(pool)
    if mode is not None:
        return mode
    if setting == SearchMode.LIKE.value:
        mode = SearchMode.LIKE
    else:
        row = await db.fetchone(pool, "SELECT engine FROM information_schema.tables WHERE table_schema=DATABASE()"
                                      " AND table_name='sku_search'")
        if row is not None and (row["engine"] or "").lower() == "mroonga":
            mode = SearchMode.FULLTEXT
        else:
            mode = SearchMode.LIKE
            hint = ("run `python -m fresh reindex` to move it onto Mroonga" if await mroonga_available(pool)
                    else "install it with scripts/ensure-mroonga.sh, then run `python -m fresh reindex`")
            log.warning("the Mroonga engine is not in use for sku_search: searching with LIKE, a scan per search"
                        " (%s)", hint)
    _MODES[pool] = mode
    return mode


def forget_search_mode(pool: aiomysql.Pool) -> None:
    """Decide again on next use (after `reindex` moved the table, or in tests choosing a path by its setting)."""
    _MODES.pop(pool, None)


# --- queries ------------------------------------------------------------------------------------------------

def clean_query(value: str | None) -> str:
    """Trim a search query and cap its length; what remains is plain text."""
    return " ".join((value or "").split())[:MAX_CHARS].strip()


def clean_sort(value: str | None) -> str:
    """An unknown sort falls back to relevance."""
    return value if value in SORTS else "relevance"


def query_terms(query: str) -> list[str]:
    """The words of a query (split on any white space), at most MAX_TERMS, duplicates dropped."""
    terms: list[str] = []
    for word in query.split():
        if word.casefold() not in (t.casefold() for t in terms):
            terms.append(word)
    return terms[:MAX_TERMS]


def fulltext_query(terms: list[str]) -> str:
    """A Groonga boolean-mode query requiring every term as a phrase, the name section weighted.

    Each term is one double-quoted phrase (only `"` and `\\` need escaping inside one), so a shopper's `+ - * ( )`,
    `OR` or `column:` are text, never operators. The `*W1:10,2:1` pragma (first thing in the query, sections
    numbered from 1) weighs the index's sections (title, body)."""
    phrases = ['+"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in terms]
    return f"*W1:{NAME_WEIGHT},2:1 " + " ".join(phrases)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the wildcards and the escape character escaped."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


_MATCH = "MATCH(x.title, x.body) AGAINST(%s IN BOOLEAN MODE)"
# ?sort= -> ORDER BY of the id query. `hot` needs the live sales of goods_sku (orders move them without touching
# the search table); the others are answered from the search table alone, which Mroonga sorts and limits itself.
_ORDER = {
    "relevance": "score DESC, x.sku_id DESC",
    "price": "x.price ASC, x.sku_id ASC",
    "new": "x.sku_id DESC",
    "hot": "s.sales DESC, x.sku_id DESC",
}


def ids_sql(mode: SearchMode, sort: str, term_count: int) -> str:
    """The id query of one search: up to %s ids in order (args: see `ids_args`)."""
    join = " JOIN goods_sku s ON s.id = x.sku_id" if sort == "hot" else ""
    if mode is SearchMode.FULLTEXT:
        score = _MATCH if sort == "relevance" else "0"
        where = _MATCH
    else:
        # Relevance without an index: how many words the name holds, then newest first (as the full-text path,
        # whose score the name's weight dominates).
        like = "(x.title LIKE %s ESCAPE '!')"
        score = " + ".join([like] * term_count) if sort == "relevance" else "0"
        where = " AND ".join(["(x.title LIKE %s ESCAPE '!' OR x.body LIKE %s ESCAPE '!')"] * term_count)
    return (f"SELECT x.sku_id, {score} AS score FROM sku_search x{join} WHERE {where}"  # noqa: S608 -- constants
            f" ORDER BY {_ORDER[sort]} LIMIT %s")


def ids_args(mode: SearchMode, sort: str, terms: list[str], limit: int) -> list:
    if mode is SearchMode.FULLTEXT:
        query = fulltext_query(terms)
        return ([query] if sort == "relevance" else []) + [query, limit]
    patterns = [like_pattern(t) for t in terms]
    score = patterns if sort == "relevance" else []
    return score + [p for p in patterns for _ in (0, 1)] + [limit]


@dataclass(frozen=True)
class Results(Page):
    """One page of a search: its items, the page number, the pages known (up to LOOKAHEAD ahead) and the matches
    seen so far (`more`: there are others beyond them)."""

    more: bool = False


async def search_skus(pool: aiomysql.Pool, *, mode: SearchMode, query: str, sort: str, page: int,
                      size: int) -> Results | None:
    """One page of the on-sale SKUs matching every word of `query` (plain text), in `sort` order.

    Two short queries whatever the catalog's size: the ids of the matches up to LOOKAHEAD pages past this one (the
    index sorts and limits them), then the page's rows, each with its name and description highlighted
    (`name_html`, `desc_html`). None when there is nothing to search for; PageOutOfRange for a page beyond the
    results (or MAX_PAGES), naming the last one."""
    terms = query_terms(clean_query(query))
    if not terms:
        return None
    # A page past MAX_PAGES looks as far as MAX_PAGES, to name the last page there is.
    seen = min(min(max(page, 1), MAX_PAGES) + LOOKAHEAD, MAX_PAGES) * size
    async with db.cursor(pool) as cur:
        await cur.execute(ids_sql(mode, sort, len(terms)), ids_args(mode, sort, terms, seen + 1))
        ids = [row["sku_id"] for row in await cur.fetchall()]
        more = len(ids) > seen
        ids = ids[:seen]
        # Every match up to `seen`: past the last page they are all of them, so the last page is the real one.
        paging = page_of(len(ids), page, size)
        wanted = ids[paging.offset:paging.offset + size]
        rows = {}
        if wanted:
            # status=1 again: a SKU taken off sale whose sync has not run yet still never shows.
            await cur.execute(f"SELECT {SKU_COLUMNS} FROM goods_sku s"  # noqa: S608 -- a constant and %s marks
                              f" WHERE s.id IN ({_marks(wanted)}) AND s.status=1", wanted)
            rows = {row["id"]: row for row in await cur.fetchall()}
    items = with_urls([rows[i] for i in wanted if i in rows])
    for item in items:
        item["name_html"] = highlight(item["name"], terms)
        item["desc_html"] = highlight(item["desc"], terms)
    return Results(number=paging.number, pages=paging.pages, total=paging.total, size=size, items=items, more=more)


# --- highlighting -------------------------------------------------------------------------------------------

def highlight(text: str, terms: list[str]) -> Markup:
    """`text` HTML-escaped, with every occurrence of a term (case-insensitive) wrapped in <em class="hl">."""
    if not terms or not text:
        return Markup(html.escape(text or ""))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, at = [], 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[at:match.start()]))
        out.append('<em class="hl">' + html.escape(match.group()) + "</em>")
        at = match.end()
    out.append(html.escape(text[at:]))
    return Markup("".join(out))


def _marks(values: list) -> str:
    return ",".join(["%s"] * len(values))
