"""The demo catalog: six categories, SPUs and SKUs, index banners, promotions and floors, with drawn pictures.

Idempotent: rows have fixed ids and are inserted only when absent (`ON DUPLICATE KEY UPDATE id=id` leaves an
existing row, including stock and sales an order has changed, untouched and raises no warning); pictures are
drawn only when their file is missing.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

from fresh import db
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.search import sync_search_index
from fresh.demo import pictures
from fresh.settings import Settings

log = logging.getLogger("fresh.catalog.seed")

# id, name, logo (icon name under static/img/cat-<logo>.svg), poster slogan, poster sub-slogan, poster item, colours
TYPES = [
    (1, "新鲜水果", "fruit", "时令水果", "高品质低价格", "orange", ("#ffd54f", "#ffb74d")),
    (2, "海鲜水产", "seafood", "海鲜盛宴", "极致爽滑", "shrimp", ("#4fc3f7", "#81d4fa")),
    (3, "猪牛羊肉", "meat", "新鲜特供", "想吃就吃", "beef", ("#ef9a9a", "#e57373")),
    (4, "禽类蛋品", "egg", "农家散养", "蛋香浓郁", "brown_eggs", ("#ce93d8", "#ba68c8")),
    (5, "新鲜蔬菜", "veg", "绿色蔬菜", "当天采摘", "broccoli", ("#a5d6a7", "#66bb6a")),
    (6, "速冻食品", "frozen", "冷链直达", "锁住新鲜", "dumplings", ("#90caf9", "#64b5f6")),
]

# SPU id -> (name, detail HTML)
SPUS = {
    1: ("草莓", "<p>草莓采摘园位于北京大兴区庞各庄镇，每年1月至6月面向北京及周边城市提供新鲜草莓。"
                "所有草莓按照有机标准培育，不使用化肥和农药，采摘后当天冷链发出。</p><p>草莓浆果柔软多汁，建议收到后冷藏，三天内食用风味最佳。</p>"),
    2: ("葡萄", "<p>精选山东与云南产区葡萄，成串采摘、整串包装，果粒饱满，果粉完整。</p><p>玫瑰香带有浓郁的玫瑰香气，"
                "阳光玫瑰脆甜无籽，可连皮食用。</p>"),
    3: ("柠檬", "<p>进口尤力克柠檬，果皮光亮，汁水充足，酸味纯正。适合泡水、调饮、烹饪去腥。</p>"),
    4: ("奇异果", "<p>新西兰原装进口绿心奇异果，富含维生素C。常温放置两到三天变软后口感最甜。</p>"),
    5: ("苹果", "<p>山东烟台栖霞产区苹果，果园直采。红富士脆甜多汁，青苹果酸甜清爽，适合榨汁与沙拉。</p>"),
    6: ("香蕉", "<p>海南高山香蕉，自然催熟，果肉绵软香甜。表皮出现小黑点时正是最香甜的时候。</p>"),
    7: ("橙子", "<p>江西赣南脐橙，果皮薄、果肉细嫩化渣，酸甜适中。每颗均经过光电分选，个头均匀。</p>"),
    8: ("青虾", "<p>青岛近海野生大青虾，捕捞后船上速冻，锁住鲜甜。虾壳薄、虾肉紧实，白灼、油焖皆宜。</p>"),
    9: ("扇贝", "<p>獐子岛海域扇贝，个大肉厚，带壳冷冻。蒜蓉粉丝蒸七分钟即可上桌。</p>"),
    10: ("秋刀鱼", "<p>北太平洋捕捞秋刀鱼，整条急冻，油脂丰富。盐烤或香煎，配柠檬汁风味更佳。</p>"),
    11: ("基围虾", "<p>广东湛江养殖基围虾，鲜活打包发出，壳薄肉嫩，适合白灼蘸酱。</p>"),
    12: ("大闸蟹", "<p>苏州阳澄湖大闸蟹，青背白肚金爪黄毛，每只约3两。蒸制15分钟，配姜醋食用。</p>"),
    13: ("三文鱼", "<p>挪威冰鲜三文鱼中段切片，色泽橙红，纹理清晰，可生食，也可香煎。</p>"),
    14: ("黑猪肉", "<p>散养黑猪，饲养周期超过一年，肉质紧实，肥瘦相间，炖煮不柴。</p>"),
    15: ("牛肉", "<p>内蒙古草原牛肉与澳洲谷饲牛肉，原切不拼接，适合炖、煎、涮。</p>"),
    16: ("羊肉", "<p>宁夏盐池滩羊，肉质细嫩无膻味。羊排适合烤制与手抓，羊肉卷适合涮锅。</p>"),
    17: ("土鸡蛋", "<p>林下散养土鸡所产鸡蛋，蛋黄颜色自然金黄，蛋清浓稠。每枚都经过光照检查。</p>"),
    18: ("咸鸭蛋", "<p>江苏高邮传统腌制咸鸭蛋，蛋黄起沙流油，熟制即食。</p>"),
    19: ("鸡肉", "<p>农家三黄鸡，养殖120天以上，皮黄肉嫩，适合白切、煲汤。鸡翅中适合可乐鸡翅与烤翅。</p>"),
    20: ("鹌鹑蛋", "<p>新鲜鹌鹑蛋，个头均匀，营养丰富，卤制、煮汤都合适。</p>"),
    21: ("胡萝卜", "<p>有机认证基地种植的胡萝卜，颜色橙红，口感脆甜，生吃熟食皆可。</p>"),
    22: ("西红柿", "<p>普罗旺斯品种西红柿，沙瓤多汁，酸甜浓郁，适合生吃和炒蛋。</p>"),
    23: ("西兰花", "<p>高原种植西兰花，花球紧实、颜色翠绿，焯水后清炒或凉拌。</p>"),
    24: ("玉米", "<p>东北黑土地甜玉米，颗粒饱满，水煮十分钟即可食用，香甜软糯。</p>"),
    25: ("茄子", "<p>本地大棚长茄子，皮薄肉嫩，适合红烧、蒜蓉、鱼香做法。</p>"),
    26: ("白菜", "<p>山东胶州大白菜，帮薄叶嫩，炖、炒、做馅都适合。</p>"),
    27: ("黄瓜", "<p>水果黄瓜，个头小巧，皮薄无刺，清脆爽口，可直接生食。</p>"),
    28: ("水饺", "<p>手工包制速冻水饺，皮薄馅足。冷水下锅，煮至浮起后再点两次凉水即可。</p>"),
    29: ("汤圆", "<p>宁波传统黑芝麻汤圆，糯米水磨，馅料香浓。水开后下锅，煮至浮起即可。</p>"),
    30: ("冰淇淋", "<p>鲜牛乳制作的香草冰淇淋，口感细腻，冷链配送，收到后请立即放入冷冻室。</p>"),
    31: ("手抓饼", "<p>原味手抓饼，层次分明，平底锅无需放油，两面各煎一分钟即可。</p>"),
    32: ("小笼包", "<p>鲜肉小笼包，汤汁饱满，冷冻状态直接上锅蒸12分钟。</p>"),
}

# id, type, spu, name, description, price, unit, stock, sales, picture kind
SKUS = [
    (1, 1, 1, "大兴大棚草莓", "草莓浆果柔软多汁，味美爽口，适合冷藏保存。", "16.80", "500g", 120, 86, "strawberry"),
    (2, 1, 1, "大兴大棚草莓礼盒 1kg", "精选大果，礼盒装，送礼佳品。", "32.00", "盒", 40, 25, "strawberry"),
    (3, 1, 2, "玫瑰香葡萄", "玫瑰香气浓郁，果粒饱满多汁。", "16.80", "500g", 90, 64, "grape"),
    (4, 1, 2, "阳光玫瑰葡萄", "脆甜无籽，可连皮食用。", "29.90", "500g", 60, 112, "green_grape"),
    (5, 1, 3, "进口柠檬", "果皮光亮，汁水充足，泡水调饮皆宜。", "3.90", "500g", 200, 150, "lemon"),
    (6, 1, 4, "新西兰奇异果", "绿心奇异果，6个装，维C丰富。", "25.80", "盒", 80, 47, "kiwi"),
    (7, 1, 5, "烟台红富士苹果", "脆甜多汁，果园直采。", "6.50", "500g", 300, 210, "apple"),
    (8, 1, 5, "青苹果", "酸甜清爽，适合榨汁。", "5.00", "500g", 150, 33, "green_apple"),
    (9, 1, 6, "海南香蕉", "自然催熟，香甜绵软。", "3.30", "500g", 260, 175, "banana"),
    (10, 1, 7, "赣南脐橙", "皮薄化渣，酸甜适中。", "3.50", "500g", 240, 198, "orange"),
    (11, 2, 8, "青岛野生海捕大青虾", "野生捕捞，船上速冻，虾肉紧实鲜甜。", "48.00", "500g", 60, 52, "shrimp"),
    (12, 2, 8, "青岛野生海捕大青虾 1kg", "家庭装，白灼油焖皆宜。", "92.00", "袋", 30, 18, "shrimp"),
    (13, 2, 9, "獐子岛扇贝", "个大肉厚，带壳冷冻。", "46.00", "500g", 70, 39, "scallop"),
    (14, 2, 10, "冷冻秋刀鱼", "整条急冻，油脂丰富，适合盐烤。", "19.00", "500g", 110, 73, "saury"),
    (15, 2, 11, "湛江基围虾", "鲜活打包，壳薄肉嫩。", "25.00", "500g", 85, 96, "prawn"),
    (16, 2, 12, "阳澄湖大闸蟹", "4只装，每只约3两，青背白肚。", "168.00", "盒", 25, 14, "crab"),
    (17, 2, 13, "挪威三文鱼切片", "冰鲜中段切片，可生食。", "59.00", "200g", 45, 61, "salmon"),
    (18, 3, 14, "黑猪五花肉", "肥瘦相间，红烧首选。", "32.80", "500g", 100, 88, "pork"),
    (19, 3, 14, "黑猪里脊肉", "精瘦细嫩，适合小炒与糖醋。", "36.00", "500g", 80, 42, "tenderloin"),
    (20, 3, 15, "内蒙古原切牛腩", "原切不拼接，炖煮软烂。", "58.00", "500g", 70, 57, "beef"),
    (21, 3, 15, "澳洲肥牛卷", "谷饲牛肉，涮锅必备。", "39.90", "300g", 120, 134, "beef_roll"),
    (22, 3, 16, "宁夏滩羊羊排", "肉质细嫩无膻味，烤制手抓皆宜。", "69.00", "500g", 50, 29, "lamb_chop"),
    (23, 3, 16, "羔羊肉卷", "肥瘦均匀，涮煮三十秒即可。", "35.00", "300g", 90, 77, "lamb_roll"),
    (24, 4, 17, "农家散养土鸡蛋 10枚", "林下散养，蛋黄金黄。", "18.80", "盒", 150, 120, "eggs"),
    (25, 4, 17, "农家散养土鸡蛋 30枚", "家庭装，每枚光照检查。", "52.00", "盒", 60, 35, "brown_eggs"),
    (26, 4, 18, "高邮咸鸭蛋", "蛋黄起沙流油，6枚装。", "19.90", "盒", 90, 58, "salted_egg"),
    (27, 4, 19, "农家三黄鸡", "整只约1.2kg，皮黄肉嫩。", "45.00", "只", 40, 22, "chicken"),
    (28, 4, 19, "鸡翅中", "肉厚皮薄，可乐鸡翅首选。", "29.80", "500g", 110, 143, "wings"),
    (29, 4, 20, "新鲜鹌鹑蛋", "20枚装，个头均匀。", "12.80", "盒", 130, 66, "quail_eggs"),
    (30, 5, 21, "有机胡萝卜", "有机基地种植，脆甜可生吃。", "3.80", "500g", 220, 91, "carrot"),
    (31, 5, 22, "普罗旺斯西红柿", "沙瓤多汁，酸甜浓郁。", "6.80", "500g", 180, 160, "tomato"),
    (32, 5, 23, "高原西兰花", "花球紧实，颜色翠绿。", "7.90", "500g", 140, 84, "broccoli"),
    (33, 5, 24, "东北甜玉米", "2根装，香甜软糯。", "8.80", "袋", 160, 102, "corn"),
    (34, 5, 25, "长茄子", "皮薄肉嫩，红烧蒜蓉皆宜。", "4.50", "500g", 170, 45, "eggplant"),
    (35, 5, 26, "胶州大白菜", "帮薄叶嫩，炖炒做馅。", "1.80", "500g", 300, 130, "cabbage"),
    (36, 5, 27, "水果黄瓜", "皮薄无刺，清脆爽口。", "5.80", "500g", 190, 118, "cucumber"),
    (37, 6, 28, "三鲜水饺", "虾仁、鸡蛋、韭菜三鲜馅。", "18.90", "袋", 120, 99, "dumplings"),
    (38, 6, 28, "猪肉白菜水饺 1kg", "家庭装，皮薄馅足。", "32.00", "袋", 80, 61, "dumplings"),
    (39, 6, 29, "宁波黑芝麻汤圆", "糯米水磨，芝麻馅香浓。", "12.50", "袋", 150, 87, "tangyuan"),
    (40, 6, 30, "香草冰淇淋", "鲜牛乳制作，4杯装。", "29.90", "盒", 70, 54, "ice_cream"),
    (41, 6, 31, "原味手抓饼", "10片装，层次分明。", "19.90", "袋", 140, 126, "pancake"),
    (42, 6, 32, "鲜肉小笼包", "汤汁饱满，蒸12分钟即可。", "16.80", "袋", 100, 70, "buns"),
]

# id, sku, title, subtitle, item kinds, colours
BANNERS = [
    (1, 1, "新鲜水果", "当季鲜果 产地直发", ["strawberry", "orange", "grape"], ("#ffb74d", "#ffe082")),
    (2, 11, "海鲜水产", "深海捕捞 冷链到家", ["shrimp", "crab", "scallop"], ("#29b6f6", "#b3e5fc")),
    (3, 20, "猪牛羊肉", "原切好肉 放心选购", ["beef", "pork", "lamb_chop"], ("#e57373", "#ffcdd2")),
    (4, 31, "新鲜蔬菜", "当天采摘 绿色健康", ["tomato", "broccoli", "carrot"], ("#66bb6a", "#c8e6c9")),
]

# id, name, url, title, subtitle, item kind, colours
PROMOTIONS = [
    (1, "吃货暑假趴", "/list/1/1", "吃货暑假趴", "鲜果低至5折", "ice_cream", ("#26c6da", "#80deea")),
    (2, "盛夏尝鲜季", "/list/2/1", "盛夏尝鲜季", "海鲜满199减30", "crab", ("#42a5f5", "#90caf9")),
]

# Per category: three title links, then four picture goods.
FLOORS = {
    1: ([4, 9, 6], [1, 3, 5, 6]),
    2: ([15, 13, 16], [11, 13, 14, 15]),
    3: ([18, 21, 23], [18, 20, 21, 22]),
    4: ([24, 28, 26], [24, 26, 27, 28]),
    5: ([31, 33, 36], [30, 31, 32, 33]),
    6: ([37, 39, 41], [37, 39, 40, 42]),
}


def draw_pictures(media: Path) -> int:
    """Draw every missing demo picture under `media`; return how many were drawn."""
    drawn = 0

    def need(rel: str) -> Path | None:
        path = media / rel
        return None if path.is_file() else path

    for sku_id, _t, _s, name, *_rest, kind in SKUS:
        if path := need(sku_path(sku_id)):
            pictures.sku_picture(path, kind=kind, name=name, seed=sku_id)
            drawn += 1
    for type_id, _n, _l, _title, _subtitle, kind, colors in TYPES:
        if path := need(poster_path(type_id)):
            pictures.poster_picture(path, kind=kind, colors=colors)
            drawn += 1
    for banner_id, _sku, _title, _subtitle, kinds, colors in BANNERS:
        if path := need(banner_path(banner_id)):
            pictures.banner_picture(path, kinds=kinds, colors=colors)
            drawn += 1
    for promo_id, _n, _u, _title, _subtitle, kind, colors in PROMOTIONS:
        if path := need(promo_path(promo_id)):
            pictures.promo_picture(path, kind=kind, colors=colors)
            drawn += 1
    return drawn


def sku_path(sku_id: int) -> str:
    return f"goods/sku_{sku_id}.png"


# The `_art` pictures carry no text (their copy is HTML since 0005); the older ones with the copy drawn in are
# replaced in rows that still point at them (see _INSERT_TYPES), so seeding an existing shop does not show it twice.
def poster_path(type_id: int) -> str:
    return f"types/poster_{type_id}_art.png"


def banner_path(banner_id: int) -> str:
    return f"banner/banner_{banner_id}_art.png"


def promo_path(promo_id: int) -> str:
    return f"promotion/promo_{promo_id}_art.png"


# The demo rows, inserted where absent. On an existing row of the three tables with pictures and copy: the new
# picture only over the old demo one, the copy only where there is none (a picture or copy staff changed is kept).
# `%%` because pymysql formats these statements when it does not batch them.
_INSERT_TYPES = ("INSERT INTO goods_types (id, name, logo, image, slogan, slogan_sub) VALUES (%s, %s, %s, %s, %s, %s)"
                 " ON DUPLICATE KEY UPDATE image=IF(image LIKE 'types/poster\\_%%', VALUES(image), image),"
                 " slogan=IF(slogan='', VALUES(slogan), slogan),"
                 " slogan_sub=IF(slogan_sub='', VALUES(slogan_sub), slogan_sub)")
_INSERT_GOODS = "INSERT INTO goods (id, name, detail) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE id=id"
_INSERT_SKUS = ("INSERT INTO goods_sku (id, type_id, goods_id, name, `desc`, price, unite, image, stock, sales, status)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1) ON DUPLICATE KEY UPDATE id=id")
_INSERT_BANNERS = ("INSERT INTO index_banners (id, sku_id, image, `index`, title, subtitle)"
                   " VALUES (%s, %s, %s, %s, %s, %s)"
                   " ON DUPLICATE KEY UPDATE image=IF(image LIKE 'banner/banner\\_%%', VALUES(image), image),"
                   " title=IF(title='', VALUES(title), title), subtitle=IF(subtitle='', VALUES(subtitle), subtitle)")
_INSERT_PROMOTIONS = ("INSERT INTO index_promotions (id, name, url, image, `index`, title, subtitle)"
                      " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                      " ON DUPLICATE KEY UPDATE image=IF(image LIKE 'promotion/promo\\_%%', VALUES(image), image),"
                      " title=IF(title='', VALUES(title), title),"
                      " subtitle=IF(subtitle='', VALUES(subtitle), subtitle)")
_INSERT_FLOORS = ("INSERT INTO index_type_goods (id, type_id, sku_id, display_type, `index`)"
                  " VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE id=id")


async def seed_catalog(pool, redis, cfg: Settings, *, demo: bool) -> None:
    """Load the demo catalog (insert-if-absent) and draw its missing pictures."""
    drawn = await asyncio.to_thread(draw_pictures, cfg.var_path / "media")
    async with db.transaction(pool) as cur:
        await cur.executemany(_INSERT_TYPES, [(t[0], t[1], t[2], poster_path(t[0]), t[3], t[4]) for t in TYPES])
        await cur.executemany(_INSERT_GOODS, [(spu_id, name, detail) for spu_id, (name, detail) in SPUS.items()])
        await cur.executemany(
            _INSERT_SKUS,
            [(s[0], s[1], s[2], s[3], s[4], Decimal(s[5]), s[6], sku_path(s[0]), s[7], s[8]) for s in SKUS])
        await cur.executemany(_INSERT_BANNERS, [(b[0], b[1], banner_path(b[0]), b[0], b[2], b[3]) for b in BANNERS])
        await cur.executemany(_INSERT_PROMOTIONS,
                              [(p[0], p[1], p[2], promo_path(p[0]), p[0], p[3], p[4]) for p in PROMOTIONS])
        rows = []
        for type_id, (titles, goods) in FLOORS.items():
            for n, sku_id in enumerate(titles):
                rows.append((type_id * 10 + n, type_id, sku_id, 0, n))
            for n, sku_id in enumerate(goods):
                rows.append((type_id * 10 + 5 + n, type_id, sku_id, 1, n))
        await cur.executemany(_INSERT_FLOORS, rows)
    await sync_search_index(pool, sku_ids=[s[0] for s in SKUS])
    await invalidate_catalog(redis)
    print(f"demo catalog: {len(TYPES)} categories, {len(SKUS)} SKUs ({drawn} pictures drawn)")
