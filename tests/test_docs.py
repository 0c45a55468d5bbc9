"""The documentation runs: every ```python block of docs/*.md and README.md is executed.

Blocks of one file run in order in one fresh namespace (so a page may build on its earlier
blocks); each page starts from scratch. A ```text block separated from the ```python block
before it by nothing but blank lines is that block's expected standard output: the test
compares them (trailing spaces ignored; a line holding only ``...`` matches any number of
lines). Illustrations that are not meant to run use another fence tag (```text, ```sh).

docs/api.md must name every public name of functrace, functrace.lax, functrace.numpy (and
numpy.linalg), functrace.optim, functrace.tree_util and every functrace.config option.
"""

from __future__ import annotations

import contextlib
import io
import re
import types
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

# Pages whose ```python blocks are known not to run, with the reason (fix the page instead of
# growing this list).

_FENCE = re.compile(r"^(\s*)```(.*)$")


class Block:
    def __init__(self, lang: str, text: str, line: int, after_blank_only: bool, end: int = 0):
        self.lang = lang
        self.text = text
        self.line = line  # 1-based line of the opening fence
        self.end = end  # 1-based line of the closing fence
        self.after_blank_only = after_blank_only  # only blank lines since the previous block


def parse_blocks(source: str) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    blocks: list[Block] = []
    lines = source.splitlines()
    i, gap_blank = 0, False
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                gap_blank = False
            i += 1
            continue
        indent, lang = m.group(1), m.group(2).strip().split(" ")[0]
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append(Block(lang, "\n".join(body) + "\n", start + 1, gap_blank, i + 1))
        i += 1
        gap_blank = True
    return blocks


def runnable(blocks: list[Block]) -> list[tuple[Block, Block | None]]:
    """The python blocks, each with its expected-output block (or None)."""
    out = []
    for k, b in enumerate(blocks):
        if b.lang != "python":
            continue
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        expected = nxt if nxt is not None and nxt.lang == "text" and nxt.after_blank_only \
            else None
        out.append((b, expected))
    return out


_SOURCE_LINE = re.compile(r"(\.md|\.py):\d+")


def output_matches(got: str, expected: str) -> bool:
    """``got`` equals ``expected`` line by line, where a ``...`` line matches any lines.

    Line numbers in source locations (``page.md:12``) are not compared, so that editing a
    page above an error message does not invalidate the message."""
    got, expected = _SOURCE_LINE.sub(r"\1:N", got), _SOURCE_LINE.sub(r"\1:N", expected)
    got_lines = [s.rstrip() for s in got.rstrip().splitlines()]
    pattern = [s.rstrip() for s in expected.rstrip().splitlines()]
    regex = "".join(r"(?:.*\n)*?" if p.strip() == "..." else re.escape(p) + r"\n"
                    for p in pattern)
    return re.fullmatch(regex, "".join(s + "\n" for s in got_lines)) is not None


def test_parser_and_matcher():
    page = ("intro\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\nprose\n\n"
            "```text\nnot output\n```\n```python\nx = 2\n```\nmore\n```text\nnope\n```\n")
    pairs = runnable(parse_blocks(page))
    assert [(b.text, e and e.text) for b, e in pairs] == [("print(1)\n", "1\n"),
                                                          ("x = 2\n", None)]
    assert output_matches("a\nb\nc\nd\n", "a\n...\nd")
    assert output_matches("a\nd\n", "a\n...\nd")
    assert not output_matches("a\nb\n", "a\nc")
    assert not output_matches("a\nb\n", "a")
    assert output_matches("  (at page.md:12 (f))\n", "  (at page.md:3 (f))")


def run_page(page: Path):
    """Run a page's python blocks in order; yield (block, expected block or None, stdout)."""
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block, expected in runnable(parse_blocks(page.read_text())):
        where = f"{page.name}:{block.line}"
        stdout = io.StringIO()
        # padded so that tracebacks and functrace's source locations give the page's lines
        code = compile("\n" * block.line + block.text, page.name, "exec")
        try:
            with contextlib.redirect_stdout(stdout), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                exec(code, namespace)
        except Exception as e:  # noqa: BLE001 - reported with the block's location
            raise AssertionError(f"the python block at {where} raised "
                                 f"{type(e).__name__}: {e}\n--- block ---\n{block.text}") from e
        yield block, expected, stdout.getvalue()


# pages without python blocks (e.g. performance tables) have nothing to run
DOCS_WITH_CODE = [p for p in DOCS if runnable(parse_blocks(p.read_text()))]


@pytest.mark.parametrize("page", DOCS_WITH_CODE,
                         ids=[str(p.relative_to(ROOT)) for p in DOCS_WITH_CODE])
def test_page_code_runs(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a page writes land here
    for block, expected, printed in run_page(page):
        where = f"{page.name}:{block.line}"
        if expected is not None:
            assert output_matches(printed, expected.text), (
                f"output of the python block at {where} differs from the text block at "
                f"{page.name}:{expected.line} (`python tests/test_docs.py --update "
                f"docs/{page.name}` rewrites it)\n--- printed ---\n{printed}"
                f"--- documented ---\n{expected.text}")


# ---------------------------------------------------------------------------------------------
# docs/api.md names every public name
# ---------------------------------------------------------------------------------------------


def _public_names() -> dict[str, list[str]]:
    import functrace as ft
    import functrace.lax as lax
    import functrace.numpy as fnp
    import functrace.optim as optim
    import functrace.tree_util as tree_util
    from functrace.config import Config

    top = [n for n in dir(ft) if not n.startswith("_")
           and not isinstance(getattr(ft, n), types.ModuleType)]
    top += ["lax", "numpy", "optim", "tree_util", "viz", "nn", "scipy", "tree",
            "errors", "random"]  # the public submodules
    # lax has no __all__: its public names are the functions defined by functrace's ops
    lax_names = [n for n in dir(lax) if not n.startswith("_") and getattr(
        getattr(lax, n), "__module__", "").startswith(("functrace.lax", "functrace.ops",
                                                       "functrace.control_flow",
                                                       "functrace.core_prims"))]
    linalg = [n for n in dir(fnp.linalg) if not n.startswith("_")
              and getattr(getattr(fnp.linalg, n), "__module__", "") == "functrace.numpy.linalg"]
    linalg = sorted(set(linalg) | set(fnp.linalg.__all__))
    config = sorted(Config._validators) + ["update", "read", "values", "override"]
    return {"functrace": top, "functrace.lax": lax_names, "functrace.numpy": list(fnp.__all__),
            "functrace.numpy.linalg": linalg, "functrace.optim": list(optim.__all__),
            "functrace.tree_util": list(tree_util.__all__), "functrace.config": config,
            "functrace.viz": list(ft.viz.__all__), "functrace.nn": list(ft.nn.__all__),
            "functrace.scipy.special": list(ft.scipy.special.__all__),
            "functrace.tree": list(ft.tree.__all__), "functrace.errors": list(ft.errors.__all__),
            "functrace.random": list(ft.random.__all__)}


def _sections(text: str) -> dict[str, str]:
    """``## `module` `` sections of api.md, by module name."""
    parts = re.split(r"^## `([\w.]+)`.*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_api_reference_names_every_public_name():
    sections = _sections((ROOT / "docs" / "api.md").read_text())
    missing = {}
    for module, names in _public_names().items():
        assert module in sections, f"docs/api.md has no '## `{module}`' section"
        body = sections[module]
        # a code span that is the name, or starts with it (possibly qualified) and a "("
        absent = [n for n in names
                  if not re.search(r"`(?:[\w.]+\.)?" + re.escape(n) + r"(?:\(|`)", body)]
        if absent:
            missing[module] = absent
    assert not missing, f"public names missing from docs/api.md: {missing}"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_relative_links_point_to_existing_files():
    broken = []
    for page in DOCS:
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        prose = re.sub(r"`[^`\n]*`", "", prose)  # code spans: `f[i](x)` is not a link
        for target in _LINK.findall(prose):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # URLs and anchors within the page
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"broken links: {broken}"


def test_docs_index_links_every_page():
    index = (ROOT / "docs" / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"


def update_page(page: Path) -> int:
    """Rewrite the expected-output blocks of ``page`` that no longer match; return how many."""
    lines = page.read_text().splitlines(keepends=True)
    edits = []
    for _, expected, printed in run_page(page):
        if expected is not None and not output_matches(printed, expected.text):
            body = "".join(s.rstrip() + "\n" for s in printed.rstrip().splitlines())
            edits.append((expected.line, expected.end, body))
    for start, end, body in reversed(edits):  # fence lines are 1-based; keep the fences
        lines[start:end - 1] = [body]
    page.write_text("".join(lines))
    return len(edits)


if __name__ == "__main__":
    # python tests/test_docs.py --update docs/page.md ...: refresh documented outputs after a
    # deliberate change of functrace's printed programs or messages (review the diff!)
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "--update":
        sys.exit("usage: python tests/test_docs.py --update PAGE.md [PAGE.md ...]")
    for name in sys.argv[2:]:
        print(f"{name}: {update_page(Path(name).resolve())} output block(s) rewritten")


# ---------------------------------------------------------------------------------------------
# docs/ir.md's grammar describes what the printer prints
# ---------------------------------------------------------------------------------------------

_DTYPE = r"(?:bool|i8|i16|i32|i64|u8|u16|u32|u64|f16|f32|f64|c64|c128)"
_TYPE = _DTYPE + r"\[(?:\d+(?:,\d+)*)?\]"
_NAME = r"[a-z]+"
_BINDER = f"{_NAME}:{_TYPE}"
_NUMBER = r"(?:-?\d+(?:\.\d*)?(?:e[-+]?\d+)?|-?inf|nan|True|False|\([^()]*j\))"
_ATOM = f"(?:{_NAME}|{_NUMBER}:{_TYPE})"


class _GrammarError(AssertionError):
    pass


def _names_in_order():
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


class _IRParser:
    """A recursive-descent recogniser of the grammar in docs/ir.md."""

    def __init__(self, text: str):
        self.s = text

    def expect(self, pattern: str, i: int, what: str) -> re.Match:
        m = re.compile(pattern).match(self.s, i)
        if m is None:
            raise _GrammarError(f"expected {what} at {self.s[i:i + 60]!r}")
        return m

    def jaxpr(self, i: int, ind: str) -> int:
        binders = f"{_BINDER}(?: {_BINDER})*"
        m = self.expect(re.escape(ind) + rf"\{{ lambda (?:({binders}) )?; ({binders})?\. let\n",
                        i, "a jaxpr head")
        names = _names_in_order()
        bound = [b.split(":")[0] for g in m.groups() if g for b in g.split(" ")]
        i = m.end()
        while self.s.startswith(ind + "    ", i):
            i, outs = self.eqn(i + len(ind) + 4, ind + "    ")
            bound += outs
            i = self.expect(r"\n", i, "a newline after an equation").end()
        m = self.expect(re.escape(ind) + rf"  in \(((?:{_ATOM})(?:, {_ATOM})*)?(,?)\) \}}", i,
                        "the outputs")
        outs = m.group(1).split(", ") if m.group(1) else []
        if (m.group(2) == ",") != (len(outs) == 1):
            raise _GrammarError(f"trailing comma wrong for {len(outs)} outputs")
        if bound != [next(names) for _ in bound]:
            raise _GrammarError(f"names not assigned in order of appearance: {bound}")
        return m.end()

    def eqn(self, i: int, ind: str) -> tuple[int, list[str]]:
        m = self.expect(rf"({_BINDER}(?: {_BINDER})*) = [a-z_]+", i, "an equation")
        outs = [b.split(":")[0] for b in m.group(1).split(" ")]
        i = m.end()
        if self.s.startswith("[", i):
            i = self.params(i + 1, ind)
        i = self.expect(rf"(?: {_ATOM})*", i, "atoms").end()
        return i, outs

    def params(self, i: int, ind: str) -> int:
        names = []
        while True:
            m = self.expect(r"([a-z_]+)=", i, "a parameter")
            names.append(m.group(1))
            i = m.end()
            if self.s.startswith("\n", i):
                i = self.jaxpr(i + 1, ind + "    ")
            elif self.s.startswith("(\n", i):
                i += 2
                while True:
                    i = self.jaxpr(i, ind + "    ")
                    m = re.compile(r", ?\n").match(self.s, i)
                    if m is None:
                        break
                    i = m.end()
                i = self.expect(r"\)", i, "the end of a tuple of jaxprs").end()
            else:
                i = self.python_value(i)
            if self.s.startswith("]", i):
                if names != sorted(names):
                    raise _GrammarError(f"parameters not sorted by name: {names}")
                return i + 1
            i = self.expect(" ", i, "a space between parameters").end()

    def python_value(self, i: int) -> int:
        depth, quote, start = 0, None, i
        while i < len(self.s):
            c = self.s[i]
            if quote:
                quote = None if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c == " " and depth == 0:
                break
            elif c == "\n":
                raise _GrammarError("newline inside a parameter value")
            i += 1
        if i == start:
            raise _GrammarError(f"empty parameter value at {self.s[i:i + 40]!r}")
        return i

    def check(self) -> None:
        end = self.jaxpr(0, "")
        if end != len(self.s):
            raise _GrammarError(f"trailing text {self.s[end:end + 40]!r}")


def _sample_programs():
    import numpy as np

    import functrace as ft
    import functrace.numpy as fnp
    from functrace import lax

    offset = np.arange(3.0)
    x3 = np.ones(3)
    return [
        ft.make_jaxpr(lambda x: fnp.sum(fnp.sin(x) * 2.0))(x3),
        ft.make_jaxpr(lambda x, n: fnp.where(x > 0, x + offset, -x) * n)(
            np.ones(3, np.float32), 2),
        ft.make_jaxpr(ft.grad(lambda w, x: fnp.sum(fnp.tanh(x @ w))))(np.ones((3, 2)),
                                                                       np.ones((4, 3))),
        ft.make_jaxpr(lambda x: lax.cond(x > 0, fnp.sin, fnp.cos, x))(1.0),
        ft.make_jaxpr(lambda x: lax.fori_loop(0, 3, lambda i, c: c + x[i], 0.0))(x3),
        ft.make_jaxpr(lambda x: lax.switch(1, [fnp.sin, fnp.cos, fnp.exp], x))(1.0),
        ft.make_jaxpr(ft.jit(lambda x: (x, x > 1, x.astype(np.int8))))(x3),
        ft.make_jaxpr(lambda: fnp.ones(2, np.complex64) * (1 + 2j))(),
        ft.make_jaxpr(lambda x: ())(1.0),
        ft.make_jaxpr(ft.checkpoint(lambda x: fnp.sin(fnp.sin(x))))(x3),
        ft.make_jaxpr(lambda x: fnp.sort(x)[::-1].at[0].add(True))(np.ones(3, np.int32)),
        ft.make_jaxpr(lambda *xs: sum(xs))(*[1.0] * 30),  # names past z
    ]


def test_printed_programs_follow_the_documented_grammar():
    for closed in _sample_programs():
        text = str(closed)
        try:
            _IRParser(text).check()
        except _GrammarError as e:
            raise AssertionError(f"{e}\n--- program ---\n{text}") from None


def test_grammar_checker_rejects_wrong_programs():
    good = "{ lambda ; a:f64[3]. let\n    b:f64[3] = sin a\n  in (b,) }"
    _IRParser(good).check()
    for bad in [good.replace("(b,)", "(b)"), good.replace("b:f64[3] =", "c:f64[3] ="),
                good.replace("f64[3]. let", "f64[3] . let"),
                good.replace("sin a", "sin[y=1 x=2] a")]:
        with pytest.raises(_GrammarError):
            _IRParser(bad).check()
