"""The docs pages: read from `pages/*.md`, rendered to HTML once, and searched.

`library(settings_values(app.config))` is the whole set, built once per process and per set
of settings (a handful of small files: milliseconds). Everything else reads from it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

from railsaas.billing import usage
from railsaas.errors import NotFound

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A query is cut to this many characters and this many distinct words before it is used;
# words shorter than MIN_TERM match too much to mean anything.
MAX_QUERY = 200
MAX_TERMS = 8
MIN_TERM = 2
MAX_RESULTS = 20
SNIPPET = 180
_WORD = re.compile(r"\w+", re.UNICODE)
# What a section's title and headings weigh against a word of its body.
TITLE_WEIGHT, HEADING_WEIGHT = 10, 5


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Section:
    """A page's introduction (anchor "") or one of its second-level sections, as plain text
    for search."""

    heading: str
    anchor: str
    text: str
    words: Counter = field(compare=False, repr=False)
    heading_words: Counter = field(compare=False, repr=False)


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    order: int
    summary: str
    html: Markup
    toc: tuple[Heading, ...]
    sections: tuple[Section, ...]
    title_words: Counter = field(compare=False, repr=False)

    @property
    def anchors(self) -> frozenset[str]:
        return frozenset(h.anchor for h in self.toc)


@dataclass(frozen=True)
class Hit:
    page: Page
    section: Section
    score: int
    snippet: Markup

    @property
    def anchor(self) -> str:
        return self.section.anchor


@dataclass(frozen=True)
class Library:
    pages: tuple[Page, ...]

    def get(self, slug: str) -> Page:
        for page in self.pages:
            if page.slug == slug:
                return page
        raise NotFound("There is no such page in the documentation.", code="not_found")

    def neighbours(self, page: Page) -> tuple[Page | None, Page | None]:
        """The pages before and after `page` in reading order."""
        i = self.pages.index(page)
        return (
            self.pages[i - 1] if i > 0 else None,
            self.pages[i + 1] if i + 1 < len(self.pages) else None,
        )

    def search(self, query: str) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        hits = []
        for page in self.pages:
            for section in page.sections:
                score = _score(page, section, terms)
                if score:
                    hits.append(Hit(page, section, score, _snippet(section.text, terms)))
        hits.sort(key=lambda h: (-h.score, h.page.order, h.section.anchor))
        return hits[:MAX_RESULTS]


def query_terms(query: str | None) -> tuple[str, ...]:
    """The distinct words of a query worth searching for, lower-cased, in their order."""
    text = unicodedata.normalize("NFKC", str(query or ""))[:MAX_QUERY].lower()
    terms: list[str] = []
    for word in _WORD.findall(text):
        if len(word) >= MIN_TERM and word not in terms:
            terms.append(word)
    return tuple(terms[:MAX_TERMS])


def _prefix_count(words: Counter, term: str) -> int:
    return sum(n for word, n in words.items() if word.startswith(term))


def _score(page: Page, section: Section, terms: tuple[str, ...]) -> int:
    """Every term must start a word somewhere in the section (its page's title counts);
    each occurrence adds to the score, in the title and headings more."""
    total = 0
    for term in terms:
        score = (
            TITLE_WEIGHT * _prefix_count(page.title_words, term)
            + HEADING_WEIGHT * _prefix_count(section.heading_words, term)
            + _prefix_count(section.words, term)
        )
        if not score:
            return 0
        total += score
    return total


def _snippet(text: str, terms: tuple[str, ...]) -> Markup:
    """About SNIPPET characters of `text` around the first term found, escaped, with every
    term marked."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")", re.IGNORECASE)
    found = pattern.search(text)
    start = max(0, (found.start() if found else 0) - SNIPPET // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(text), start + SNIPPET)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    piece = text[start:end]
    out = Markup("…") if start else Markup("")
    last = 0
    for m in pattern.finditer(piece):
        out += escape(piece[last : m.start()]) + Markup("<mark>%s</mark>") % m.group(0)
        last = m.end()
    out += escape(piece[last:])
    return out + (Markup("…") if end < len(text) else Markup(""))


# --- reading and rendering ------------------------------------------------------------------


def _markdown() -> MarkdownIt:
    # "commonmark" with html off: a page's raw HTML is shown as text, never passed through.
    # markdown-it refuses javascript:, vbscript:, file: and data: links by itself.
    md = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["table", "replacements", "smartquotes"]
    )

    def table_open(self, tokens, idx, options, env):
        # Wide tables scroll inside their box on a phone instead of widening the page.
        return '<div class="table-scroll">' + self.renderToken(tokens, idx, options, env)

    def table_close(self, tokens, idx, options, env):
        return self.renderToken(tokens, idx, options, env) + "</div>"

    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    return md


def slugify(text: str) -> str:
    """A heading's anchor: lower-case words joined by hyphens ("Spend caps" -> spend-caps)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "section"


def _inline_text(token: Token) -> str:
    return "".join(
        " " if c.type in ("softbreak", "hardbreak") else c.content
        for c in token.children or ()
        if c.type in ("text", "code_inline", "softbreak", "hardbreak")
    )


def _split_front_matter(name: str, source: str) -> tuple[dict[str, str], str]:
    if not source.startswith("---\n") or "\n---\n" not in source[4:]:
        raise ValueError(f"docs page {name}: no front matter (--- title, order, summary ---)")
    head, body = source[4:].split("\n---\n", 1)
    meta = {}
    for line in head.splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    missing = {"title", "order", "summary"} - meta.keys()
    if missing:
        raise ValueError(f"docs page {name}: front matter lacks {', '.join(sorted(missing))}")
    return meta, body


def _render(md: MarkdownIt, slug: str, meta: dict[str, str], body: str) -> Page:
    tokens = md.parse(body)
    toc: list[Heading] = []
    used: set[str] = set()
    # Sections for search: the text before the first h2, then each h2 with what follows.
    sections: list[tuple[str, str, list[str]]] = [("", "", [])]
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = _inline_text(tokens[i + 1])
            anchor = base = slugify(text)
            n = 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            token.attrSet("id", anchor)
            level = int(token.tag[1])
            toc.append(Heading(level, text, anchor))
            if level == 2:
                sections.append((text, anchor, []))
        elif token.type == "inline":
            for child in token.children or ():
                if child.type == "link_open" and str(child.attrGet("href")).startswith("http"):
                    child.attrSet("rel", "noopener")
            heading = tokens[i - 1] if i else None
            # A page's title and its sections' headings are searched apart, with more weight.
            if not (heading and heading.type == "heading_open" and heading.tag in ("h1", "h2")):
                sections[-1][2].append(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            sections[-1][2].append(token.content)
    html = Markup(md.renderer.render(tokens, md.options, {}))  # noqa: S704  (html off: escaped)
    title = meta["title"]
    return Page(
        slug=slug,
        title=title,
        order=int(meta["order"]),
        summary=meta["summary"],
        html=html,
        toc=tuple(toc),
        sections=tuple(
            Section(
                heading=heading or title,
                anchor=anchor,
                text=" ".join(" ".join(parts).split()),
                words=Counter(_WORD.findall(" ".join(parts).lower())),
                heading_words=Counter(_WORD.findall(heading.lower())),
            )
            for heading, anchor, parts in sections
            if parts or heading
        ),
        title_words=Counter(_WORD.findall(title.lower())),
    )


def _sources() -> list[tuple[str, str]]:
    folder = resources.files(__package__) / "pages"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".md"):
            slug = entry.name[: -len(".md")]
            if not SLUG_RE.match(slug):
                raise ValueError(f"docs page {entry.name}: name it in lower-case-with-hyphens")
            found.append((slug, entry.read_text(encoding="utf-8")))
    return found


def _dollars(cents: Decimal) -> str:
    """$26.00, or $0.195 where a price has a fraction of a cent."""
    amount = cents / 100
    exact = amount.quantize(Decimal("0.01"))
    return f"${exact}" if exact == amount else f"${amount.quantize(Decimal('0.001'))}"


def settings_values(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the pages' `{{name}}` placeholders stand for, from the app's settings: the
    product's real host, limits and prices, so the docs cannot drift from them."""
    markup = Decimal(100 + int(config["USAGE_MARKUP_PERCENT"])) / 100
    month = Decimal(usage.MINUTES_PER_MONTH)
    per_unit = usage.RAILWAY_CENTS_PER_UNIT
    values = {
        "base_url": str(config["BASE_URL"]).rstrip("/"),
        "support_email": str(config["SUPPORT_EMAIL"]),
        "price_vcpu_month": _dollars(per_unit["CPU_USAGE"] * month * markup),
        "price_memory_gb_month": _dollars(per_unit["MEMORY_USAGE_GB"] * month * markup),
        "price_disk_gb_month": _dollars(per_unit["DISK_USAGE_GB"] * month * markup),
        "price_backup_gb_month": _dollars(per_unit["BACKUP_USAGE_GB"] * month * markup),
        "price_egress_gb": _dollars(per_unit["NETWORK_TX_GB"] * markup),
        "dunning_grace_days": str(config["DUNNING_GRACE_DAYS"]),
        "dunning_delete_days": str(config["DUNNING_DELETE_DAYS"]),
        "plan_limit_grace_days": str(config["PLAN_LIMIT_GRACE_DAYS"]),
        "deploy_timeout_minutes": str(int(config["DEPLOY_TIMEOUT_SECONDS"]) // 60),
        "verify_link_hours": str(int(config["LINK_MAX_AGE_VERIFY_EMAIL"]) // 3600),
        "reset_link_minutes": str(int(config["LINK_MAX_AGE_RESET_PASSWORD"]) // 60),
        "login_lock_minutes": str(max(1, int(config["LOGIN_LOCK_SECONDS"]) // 60)),
        "invitation_days": str(int(config["INVITATION_MAX_AGE"]) // 86400),
        "invitations_per_day": str(config["INVITATIONS_PER_DAY"]),
        "api_rate_per_token": f"{int(config['API_RATE_LIMIT_PER_TOKEN']):,}",
        "api_rate_window": str(config["API_RATE_WINDOW_SECONDS"]),
    }
    return tuple(sorted(values.items()))


@lru_cache(maxsize=8)
def library(values: tuple[tuple[str, str], ...]) -> Library:
    """Every page, with `{{name}}` replaced by `values` (settings_values); a placeholder
    with no value is an error, found by the first render in the tests."""
    md = _markdown()
    known = dict(values)
    pages = []
    for slug, source in _sources():
        meta, body = _split_front_matter(slug, source)

        def fill(m: re.Match, slug: str = slug) -> str:
            if m.group(1) not in known:
                raise ValueError(f"docs page {slug}: no value for {{{{{m.group(1)}}}}}")
            return known[m.group(1)]

        pages.append(_render(md, slug, meta, _PLACEHOLDER.sub(fill, body)))
    pages.sort(key=lambda p: (p.order, p.slug))
    return Library(tuple(pages))
