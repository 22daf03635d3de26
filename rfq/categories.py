"""The two-level tree of industrial-goods categories used by suppliers, RFQs and festivals.

Codes are ``top`` or ``top.sub``. The tree ships with the code (reference data that
changes with releases, not at run time) and is served at ``GET /api/categories``.
A category *covers* itself and its subcategories, which is how matching works: a
supplier certified for ``fasteners`` is matched to an RFQ in ``fasteners.bolts``, and
one certified for ``fasteners.bolts`` to an RFQ for ``fasteners`` in general.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    """One node of the tree."""

    code: str
    name_en: str
    name_zh: str
    parent: str | None = None


_TREE: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "fasteners",
        "Fasteners",
        "紧固件",
        (
            ("bolts", "Bolts and screws", "螺栓螺钉"),
            ("nuts", "Nuts and washers", "螺母垫圈"),
            ("rivets", "Rivets and pins", "铆钉销钉"),
            ("anchors", "Anchors", "锚栓"),
        ),
    ),
    (
        "bearings",
        "Bearings and transmission",
        "轴承与传动",
        (
            ("ball", "Ball bearings", "球轴承"),
            ("roller", "Roller bearings", "滚子轴承"),
            ("gears", "Gears and gearboxes", "齿轮与减速机"),
            ("belts", "Belts and chains", "皮带与链条"),
        ),
    ),
    (
        "electrical",
        "Electrical equipment",
        "电工电气",
        (
            ("cables", "Wires and cables", "电线电缆"),
            ("switchgear", "Switchgear", "开关设备"),
            ("motors", "Electric motors", "电动机"),
            ("lighting", "Industrial lighting", "工业照明"),
        ),
    ),
    (
        "steel",
        "Steel and metals",
        "钢材与金属",
        (
            ("sheet", "Sheet and plate", "板材"),
            ("pipe", "Pipes and tubes", "管材"),
            ("bar", "Bars and profiles", "棒材型材"),
            ("nonferrous", "Non-ferrous metals", "有色金属"),
        ),
    ),
    (
        "chemicals",
        "Chemicals and plastics",
        "化工与塑料",
        (
            ("resins", "Plastic resins", "塑料原料"),
            ("coatings", "Paints and coatings", "涂料"),
            ("lubricants", "Lubricants", "润滑油"),
            ("adhesives", "Adhesives", "胶粘剂"),
        ),
    ),
    (
        "tools",
        "Tools and abrasives",
        "工具与磨具",
        (
            ("hand", "Hand tools", "手动工具"),
            ("power", "Power tools", "电动工具"),
            ("cutting", "Cutting tools", "刀具"),
            ("abrasives", "Abrasives", "磨料磨具"),
        ),
    ),
    (
        "safety",
        "Safety and protection",
        "安全防护",
        (
            ("ppe", "Personal protective equipment", "劳保用品"),
            ("fire", "Fire protection", "消防器材"),
            ("signage", "Safety signs", "安全标识"),
        ),
    ),
    (
        "packaging",
        "Packaging",
        "包装",
        (
            ("cartons", "Cartons and boxes", "纸箱纸盒"),
            ("film", "Films and bags", "薄膜包装袋"),
            ("pallets", "Pallets", "托盘"),
        ),
    ),
    (
        "electronics",
        "Electronic components",
        "电子元器件",
        (
            ("semiconductors", "Semiconductors", "半导体"),
            ("passives", "Passive components", "被动元件"),
            ("connectors", "Connectors", "连接器"),
            ("pcb", "Printed circuit boards", "印制电路板"),
        ),
    ),
    (
        "instruments",
        "Instruments and automation",
        "仪器仪表与自动化",
        (
            ("sensors", "Sensors", "传感器"),
            ("plc", "PLCs and controllers", "控制器"),
            ("valves", "Valves and actuators", "阀门与执行器"),
            ("pumps", "Pumps and compressors", "泵与压缩机"),
        ),
    ),
)


def _build() -> dict[str, Category]:
    nodes: dict[str, Category] = {}
    for code, en, zh, children in _TREE:
        nodes[code] = Category(code, en, zh)
        for sub, sub_en, sub_zh in children:
            nodes[f"{code}.{sub}"] = Category(f"{code}.{sub}", sub_en, sub_zh, code)
    return nodes


CATEGORIES: dict[str, Category] = _build()


def exists(code: str) -> bool:
    """True if ``code`` is a category of the tree."""
    return code in CATEGORIES


def tree() -> list[dict[str, object]]:
    """The tree as JSON-ready nested dicts, top-level categories in order."""
    out: list[dict[str, object]] = []
    for node in CATEGORIES.values():
        entry = {"code": node.code, "name_en": node.name_en, "name_zh": node.name_zh}
        if node.parent is None:
            out.append({**entry, "children": []})
        else:
            children = out[-1]["children"]
            assert isinstance(children, list)
            children.append(entry)
    return out


def covers(a: str, b: str) -> bool:
    """True if the two codes are equal or one is the other's parent."""
    return a == b or b.startswith(a + ".") or a.startswith(b + ".")


def matches(supplier_codes: Iterable[str], rfq_code: str) -> bool:
    """True if any of a supplier's categories covers the RFQ's category."""
    return any(covers(code, rfq_code) for code in supplier_codes)
