"""`-l`: kubectl's label selector syntax (`env=prod,tier!=db`, `region in (east,west)`,
`gpu`, `!legacy`) as the requirements the engine already evaluates, so a list filters as
`kubectl get -l` does."""

import re

from hub.cli.usage import UsageError
from hub.models.vm import SelectorOperator, SelectorRequirement

_SET = re.compile(r"^([^\s!=()]+)\s+(in|notin)\s+\(([^()]*)\)$")
_EQUAL = re.compile(r"^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$")
_EXISTS = re.compile(r"^(!?)([^\s!=(),]+)$")
SYNTAX = "KEY=VALUE, KEY!=VALUE, KEY in (A,B), KEY notin (A,B), KEY or !KEY, comma-separated"


def _terms(text: str) -> list[str]:
    """Split on the commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    return [*terms, current.strip()]


def parse(text: str, flag: str = "-l") -> list[SelectorRequirement]:
    found = []
    for term in _terms(text):
        if match := _SET.match(term):
            key, word, values = match.groups()
            operator = SelectorOperator.IN if word == "in" else SelectorOperator.NOT_IN
            listed = tuple(v.strip() for v in values.split(",") if v.strip())
            if not listed:
                raise UsageError(f"{flag} {text!r}: {key} {word} () names no value")
            found.append(SelectorRequirement(key=key, operator=operator, values=listed))
        elif match := _EQUAL.match(term):
            key, sign, value = match.groups()
            operator = SelectorOperator.NOT_IN if sign == "!=" else SelectorOperator.IN
            found.append(SelectorRequirement(key=key, operator=operator, values=(value,)))
        elif match := _EXISTS.match(term):
            negated, key = match.groups()
            operator = SelectorOperator.DOES_NOT_EXIST if negated else SelectorOperator.EXISTS
            found.append(SelectorRequirement(key=key, operator=operator))
        else:
            raise UsageError(f"{flag} {text!r}: cannot read {term!r}; expected {SYNTAX}")
    return found
