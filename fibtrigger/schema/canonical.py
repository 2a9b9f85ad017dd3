"""A canonical form of SQL text, so that a body the server gives back compares equal to the declared one.

MySQL and MariaDB keep a routine's or trigger's body as it was sent, but a
person (or a tool) may have re-sent it with other whitespace, comments or
keyword case. Those do not change what it does; anything else does. The text
is cut into tokens: string literals stay exactly as written, comments and
whitespace go, everything else is lowercased (keywords, variables and column
names are case-insensitive) and backquotes are dropped; the tokens are joined
by single spaces. A trailing semicolon is dropped too.
"""

import re

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<line_comment>(?:--(?=\s|$)|\#)[^\n]*)
    | (?P<executable_comment>/\*[!M][\s\S]*?\*/)
    | (?P<block_comment>/\*[\s\S]*?\*/)
    | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    | (?P<quoted_name>`(?:[^`]|``)*`)
    | (?P<word>[A-Za-z0-9_$]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")


def sql_tokens(text: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group(0)
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "quoted_name":
            value = value[1:-1].replace("``", "`").lower()
        elif kind in ("word", "other"):
            value = value.lower()
        tokens.append(value)
    while tokens and tokens[-1] == ";":
        tokens.pop()
    return tokens


def canonical_sql(text: str) -> str:
    return " ".join(sql_tokens(text))


def canonical_type(text: str) -> str:
    """A column or parameter type as information_schema spells it, without integer display widths:
    ``INT`` and ``int(11)`` (MariaDB) are the same type, and so are ``DECIMAL(65, 0)`` and ``decimal(65,0)``."""
    tokens = sql_tokens(text)
    if tokens and tokens[0] in _INTEGER_TYPES:
        tokens[0] = "int" if tokens[0] == "integer" else tokens[0]
        if tokens[1:2] == ["("]:
            closing = tokens.index(")")
            del tokens[1 : closing + 1]
    return re.sub(r"\s*([(),])\s*", r"\1", " ".join(tokens))


def split_top_level(text: str) -> list[str]:
    """``a INT, b DECIMAL(65,0)`` -> ``['a INT', ' b DECIMAL(65,0)']``: commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, character in enumerate(text):
        if character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
        elif character == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    tail = text[start:]
    if tail.strip():
        parts.append(tail)
    return parts
