"""The READMEs' commands stay runnable, and the Chinese README says what the English one says.

Every ``nnfast`` command in a code block of either README (and every whole command written inline) is parsed
by the real click command, so a renamed option or command fails here; ``make`` targets, ``pip install`` extras
and example scripts named must exist. README.zh-CN.md may only use commands and Python lines that the English
README has (its comments are Chinese, its code is the same), and its table of the book's results must carry
the English table's figures.
"""

import os
import re
import shlex

import click
import pytest

from nnfast.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
PROGRAM = re.compile(r"(make|pip|nnfast|python|source|dask|\.venv/bin/\S+)( |$)")


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def _code(text):
    """([shell command], [Python line], [inline code span]) of a markdown text, comments and spacing removed."""
    shell, python = [], []
    for lang, body in FENCE.findall(text):
        for line in body.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()  # the code's own '#' never follows a space here
            if not line:
                continue
            if lang == "python":
                python.append(line)
            elif PROGRAM.match(line):  # a command, not a line of the package's file tree
                shell.extend(part.strip() for part in line.split("&&"))
    inline = [" ".join(part.split()) for span in re.findall(r"`([^`]+)`", FENCE.sub("", text))
              for part in span.split("&&")]
    return shell, python, inline


ENGLISH, CHINESE = _read("README.md"), _read("README.zh-CN.md")
EN_SHELL, EN_PYTHON, EN_INLINE = _code(ENGLISH)
ZH_SHELL, ZH_PYTHON, ZH_INLINE = _code(CHINESE)


def _is_command(span):
    """An inline span that is a whole nnfast command line: not a synopsis (``nnfast book [NAME...|--all]``,
    ``nnfast train --seed S``) nor a command's bare name in a sentence (``nnfast eval``)."""
    return (span.startswith("nnfast ") and len(span.split()) >= 3
            and not re.search(r"[\[\]|]|\.\.\.|\b[A-Z]+\b", span))


def _nnfast_commands(shell, inline):
    lines = [c[len(".venv/bin/"):] if c.startswith(".venv/bin/nnfast") else c for c in shell]
    return sorted({c for c in lines if c.startswith("nnfast")} | {c for c in inline if _is_command(c)})


def parse(command):
    """Parse ``command`` (a shell line starting with ``nnfast``) with the real click commands, calling nothing.

    Raises click's UsageError (an unknown command or option, a bad value) as the command line would."""
    tokens = shlex.split(command)[1:]
    cmd, ctx, name = main, None, "nnfast"
    try:
        while isinstance(cmd, click.Group):
            i = next((k for k, t in enumerate(tokens) if not t.startswith("-")), len(tokens))
            ctx = cmd.make_context(name, tokens[:i + 1], parent=ctx)  # the group's own options, and the name
            if i == len(tokens):
                return
            sub = cmd.get_command(ctx, tokens[i])
            if sub is None:
                raise click.UsageError(f"no command {tokens[i]!r} in {name}")
            cmd, name, tokens = sub, tokens[i], tokens[i + 1:]
        cmd.make_context(name, tokens, parent=ctx)
    except click.exceptions.Exit as exc:  # --help, --version
        assert exc.exit_code == 0


def test_the_extraction_sees_the_readmes_commands():
    assert "make train" in EN_SHELL and "make train" in ZH_SHELL
    assert "nnfast draw net.npz conv.npz" in _nnfast_commands(ZH_SHELL, ZH_INLINE)
    assert "net = network.Network([784, 30, 10])" in ZH_PYTHON
    assert _is_command("nnfast predict net.npz photo.jpg") and not _is_command("nnfast book [NAME...|--all]")
    assert not _is_command("nnfast eval MODEL")
    with pytest.raises(click.UsageError):
        parse("nnfast train --no-such-option")
    with pytest.raises(click.UsageError):
        parse("nnfast trian")
    with pytest.raises(click.UsageError):
        parse("nnfast train --epochs many")
    with pytest.raises(click.UsageError):
        parse("nnfast data nothing")


@pytest.mark.parametrize("command", sorted(set(_nnfast_commands(EN_SHELL, EN_INLINE) +
                                               _nnfast_commands(ZH_SHELL, ZH_INLINE))))
def test_every_nnfast_command_in_the_readmes_parses(command):
    parse(command)


def test_the_other_commands_name_what_exists():
    with open(os.path.join(ROOT, "Makefile")) as f:
        targets = set(re.findall(r"^([\w-]+):", f.read(), re.M))
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        extras = set(re.findall(r"^(\w+) = \[", f.read().split("[project.optional-dependencies]")[1], re.M))
    for command in set(EN_SHELL + ZH_SHELL):
        words = shlex.split(command)
        if words[0] == "make":
            assert set(words[1:]) <= targets, command
        elif "pip" in words[0] and "install" in words:
            for word in words:
                wanted = re.fullmatch(r"(?:\.|nnfast)\[([\w,]+)\]", word)
                assert not wanted or set(wanted.group(1).split(",")) <= extras, command
        elif words[0] == "python" and words[1].endswith(".py"):
            assert os.path.exists(os.path.join(ROOT, words[1])), command
    for span in ZH_INLINE:
        if span.startswith("python examples/"):
            assert os.path.exists(os.path.join(ROOT, span.split()[1])), span


def test_the_chinese_readme_uses_only_the_english_readmes_commands():
    english = set(EN_SHELL) | set(EN_INLINE)
    missing = [c for c in ZH_SHELL + [s for s in ZH_INLINE if _is_command(s)] if c not in english]
    assert not missing, f"commands in README.zh-CN.md that README.md does not have: {missing}"
    python = set(EN_PYTHON)
    missing = [line for line in ZH_PYTHON if line not in python]
    assert not missing, f"Python lines in README.zh-CN.md that README.md does not have: {missing}"


def test_the_chinese_readme_walks_the_learners_road():
    for shown in ("make train", "make test", "pip install .", "nnfast draw", "python examples/momentum.py",
                  "nnfast book --all"):
        assert shown in ZH_SHELL + ZH_INLINE, shown
    for module in ("network", "network2", "network3"):
        assert f"from nnfast import {module}" in " ".join(ZH_PYTHON), module
    assert "[中文说明](README.zh-CN.md)" in ENGLISH.split("\n## ")[0]  # linked from the top
    assert "](README.md" in CHINESE.split("\n## ")[0]


def _table(text, columns):
    """{run: (book, nnfast)} of the rows of a markdown table whose first cell is a run name."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > max(columns) and re.fullmatch(r"ch\d-[\w-]+", cells[0]):
            rows[cells[0]] = tuple(cells[c] for c in columns)
    return rows


def test_the_chinese_results_table_carries_the_english_tables_figures():
    english = _table(ENGLISH.split("<!-- book-table -->")[1].split("<!-- /book-table -->")[0], (3, 4))
    chinese = _table(CHINESE, (2, 3))
    assert len(english) >= 10
    assert chinese == english
