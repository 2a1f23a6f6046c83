#!/usr/bin/env python3
"""Regenerates tests/chat/jinja_cases.json with jinja2 as transformers runs it.

Every case is a template and its variables; the expected output (or error message and type) is what
transformers' own compiled template environment renders: ImmutableSandboxedEnvironment(trim_blocks,
lstrip_blocks, loopcontrols) with its tojson / raise_exception / strftime_now / dict / namespace, taken
from transformers.utils.chat_template_utils._compile_jinja_template. strftime_now sees 2024-07-26
09:05:03 local time (tests/chat/jinja_cases_test.cc pins the same moment).

The cases already in jinja_cases.json keep their template and variables and are re-rendered; NEW_CASES
below are added (or replaced, by name). Pinned to transformers 5.24.0 / jinja2 3.1.6 / markupsafe 3.0.4:

    /work/venv-ref/bin/python tests/chat/make_jinja_cases.py
"""
import datetime as _dt
import json
import os
import sys
from importlib.metadata import version

import transformers.utils.chat_template_utils as ctu

PINNED = {"transformers": "5.24.0", "jinja2": "3.1.6", "markupsafe": "3.0.4"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "jinja_cases.json")


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 7, 26, 9, 5, 3)


ctu.datetime = _FixedDatetime

# name, template, variables
NEW_CASES = [
    # select/reject/selectattr/rejectattr/map start with `if value:` - a falsy non-iterable selects nothing.
    ("select_on_none", "{{ x | select | list }}", {"x": None}),
    ("reject_on_none", "{{ x | reject('none') | list }}", {"x": None}),
    ("selectattr_on_none", "{{ tools | selectattr('type', 'equalto', 'function') | list }}", {"tools": None}),
    ("rejectattr_on_none", "{{ tools | rejectattr('type') | list | length }}", {"tools": None}),
    ("selectattr_on_undefined", "{{ nothing | selectattr('x') | list }}", {}),
    ("select_on_zero", "{{ 0 | select | list }}", {}),
    ("select_on_empty_string", "{{ '' | reject | list }}", {}),
    ("selectattr_none_no_args", "{{ x | selectattr | list }}", {"x": None}),
    ("functionary_tools_none",
     "{% for t in tools | selectattr('type', 'equalto', 'code_interpreter') %}ci{% endfor %}"
     "{% if tools | rejectattr('type', 'equalto', 'code_interpreter') | list | length == 0 %}none{% endif %}",
     {"tools": None}),
    ("err_select_on_int", "{{ 5 | select | list }}", {}),
    # Markup: |safe and |escape return Markup; +, %, |format and Markup's methods escape the plain side.
    ("markup_add_plain", "{{ 'a'|safe + '\"<b>' }}", {}),
    ("markup_radd_plain", "{{ '<i>' + 'x'|safe }}", {}),
    ("markup_add_markup", "{{ '<i>'|safe + '<b>'|safe }}", {}),
    ("markup_concat_tilde", "{{ '<i>'|safe ~ '<b>' }}", {}),
    ("markup_escape_then_add", "{{ '<a>'|e + '<b>' }}", {}),
    ("markup_escape_twice", "{{ '<a>'|e|e }}", {}),
    ("markup_forceescape", "{{ '<a>'|safe|forceescape }}", {}),
    ("markup_escaped_test", "{{ 'x'|safe is escaped }} {{ 'x' is escaped }} {{ 'x'|e is escaped }}", {}),
    ("markup_mod", "{{ '<p>%s</p>'|safe % '<b>' }}", {}),
    ("markup_mod_tuple", "{{ '%s-%d-%r'|safe % ('<a>', 3, '&') }}", {}),
    ("markup_mod_markup_arg", "{{ '%s'|safe % ('<a>'|safe) }}", {}),
    ("plain_mod_markup", "{{ '<%s>' % ('<b>'|safe) }}", {}),
    ("markup_format_filter", "{{ '<p>%s</p>'|safe|format('<b>') }}", {}),
    ("markup_format_method", "{{ ('<p>{}</p>'|safe).format('<b>') }}", {}),
    ("markup_format_kw", "{{ ('{a}|{b}'|safe).format(a='<', b='x'|safe) }}", {}),
    ("markup_join_method", "{{ ('<br>'|safe).join(['<a>', 'b'|safe, 3]) }}", {}),
    ("markup_replace", "{{ ('a<b'|safe).replace('a', '&') }}", {}),
    ("markup_upper_then_add", "{{ ('x'|safe).upper() + '<' }}", {}),
    ("markup_strip_then_add", "{{ (' x '|safe).strip() + '<' }}", {}),
    ("markup_split_items", "{{ (('a b'|safe).split()[0] + '<') }}", {}),
    ("markup_index_then_add", "{{ ('ab'|safe)[0] + '<' }}", {}),
    ("markup_slice_then_add", "{{ ('abc'|safe)[1:] + '<' }}", {}),
    ("markup_mul", "{{ ('<'|safe) * 3 + '<' }}", {}),
    ("markup_lower_filter", "{{ ('X'|safe)|lower + '<' }}", {}),
    ("markup_trim_filter", "{{ (' x '|safe)|trim + '<' }}", {}),
    ("markup_string_filter", "{{ ('x'|safe)|string + '<' }}", {}),
    ("markup_join_filter", "{{ ['<a>'|safe, '<b>']|join(', ') + '<' }}", {}),
    ("markup_repr_in_list", "{{ ['a'|safe, 'b'] }}", {}),
    ("markup_eq_str", "{{ ('a'|safe) == 'a' }} {{ 'a'|safe in ['a'] }} {{ {'a': 1}['a'|safe] }}", {}),
    ("markup_length", "{{ ('<a>'|e)|length }}", {}),
    ("markup_tojson", "{{ ('<a>'|safe)|tojson }}", {}),
    ("markup_safe_number", "{{ (1|safe) + '<' }}", {}),
    ("markup_escape_none", "{{ none|e }}", {}),
    ("markup_mod_dict", "{{ '%(a)s|%(b)d'|safe % {'a': '<', 'b': 2} }}", {}),
    ("markup_mod_list", "{{ '%s'|safe % ['<'] }}", {}),
    ("markup_partition", "{{ ('a<b'|safe).partition('<') | list }}", {}),
    ("markup_indent", "{{ ('a\nb'|safe)|indent(2) + '<' }}", {}),
    ("markup_capitalize_title", "{{ ('ab'|safe)|capitalize + '<' }} {{ ('ab'|safe)|title + '<' }}", {}),
    ("markup_center_filter", "{{ ('x'|safe)|center(5) + '<' }}", {}),
    ("markup_replace_filter", "{{ ('a'|safe)|replace('a', '<') + '<' }}", {}),
    ("markup_first_char", "{{ ('ab'|safe)|first + '<' }} {{ ('ab'|safe)|reverse + '<' }}", {}),
    ("err_markup_add_int", "{{ 'a'|safe + 1 }}", {}),
    ("err_int_add_markup", "{{ 1 + 'a'|safe }}", {}),
    # Unhashable subscripts: getitem turns the TypeError into an undefined; .get and `in` raise it.
    ("subscript_unhashable_list", "{{ {'a': 1}[['x']] is defined }}", {}),
    ("subscript_unhashable_dict", "{{ d[{'k': 1}] is defined }}", {"d": {"a": 1}}),
    ("subscript_unhashable_default", "{{ d[[1]] | default('dflt') }}", {"d": {"a": 1}}),
    ("subscript_tuple_key", "{{ {(1, 2): 't'}[(1, 2)] }}", {}),
    ("err_get_unhashable", "{{ {'a': 1}.get(['x']) }}", {}),
    ("err_in_unhashable", "{{ ['x'] in {'a': 1} }}", {}),
    ("err_in_unhashable_dict", "{{ {} in {'a': 1} }}", {}),
    ("err_print_unhashable_subscript", "{{ {'a': 1}[['x']] + 1 }}", {}),
    # Generators: map/select/reject/selectattr/rejectattr/unique/batch/slice/items return one-shot
    # iterators (always true, no len, no subscript, not JSON serializable); reverse gives reversed(list).
    ("err_generator_tojson", "{{ [1, 2] | map('string') | tojson }}", {}),
    ("err_generator_length", "{{ [1, 2] | select | length }}", {}),
    ("err_generator_count", "{{ tools | selectattr('type') | count }}", {"tools": [{"type": "function"}]}),
    ("generator_truthy_when_empty", "{% if [0] | select %}T{% else %}F{% endif %}"
     "{% if none | selectattr('x') %}T{% else %}F{% endif %}", {}),
    ("generator_consumed_once", "{% set g = [1, 2] | map('string') %}{{ g | join }}|{{ g | join }}", {}),
    ("generator_in_loop_twice", "{% set g = [1, 2] | select %}{% for x in g %}{{ x }}{% endfor %}"
     "{% for x in g %}{{ x }}{% else %}empty{% endfor %}", {}),
    ("generator_subscript_undefined", "{{ ([1, 2] | select)[0] is defined }}", {}),
    ("generator_tests", "{{ [1] | select is iterable }} {{ [1] | select is sequence }} {{ [1] | select is string }}", {}),
    ("err_generator_last", "{{ [1, 2] | select | last }}", {}),
    ("generator_first", "{{ [0, 3, 4] | select | first }}", {}),
    ("generator_in", "{{ 2 in [1, 2] | select }} {{ 5 in [1, 2] | select }}", {}),
    ("generator_loop_length", "{% for x in [1, 2, 3] | reject('odd') %}{{ loop.length }}{{ loop.last }}{% endfor %}", {}),
    ("generator_list_chain", "{{ [{'a': 1}, {'a': 2}] | map(attribute='a') | map('string') | list }}", {}),
    ("items_list", "{{ {'a': 1, 'b': 2} | items | list }}", {}),
    ("batch_list", "{{ [1, 2, 3] | batch(2) | list }}", {}),
    ("slice_list", "{{ [1, 2, 3] | slice(2) | list }}", {}),
    ("unique_list", "{{ [1, 1, 2] | unique | list }}", {}),
    ("reverse_iter_join", "{{ [1, 2, 3] | reverse | join(',') }} {{ (1, 2) | reverse | list }}", {}),
    ("err_reverse_tojson", "{{ [1, 2] | reverse | tojson }}", {}),
    ("err_reverse_length", "{{ [1, 2] | reverse | length }}", {}),
    ("reverse_string", "{{ 'abc' | reverse }}", {}),
    ("err_generator_concat", "{{ ([1] | select) + [2] }}", {}),
    ("generator_macro_varargs", "{% macro m() %}{{ varargs }}{% endmacro %}{{ m(*([1, 2] | select)) }}", {}),
    ("map_tojson_via_list", "{{ tools | map(attribute='name') | list | tojson }}", {"tools": [{"name": "a"}, {"name": "b"}]}),
    # transformers 5.24's namespace() refuses underscore-prefixed attributes; dict() builds plain dicts.
    ("dict_global_kwargs", "{{ dict(a=1, b='x') }}", {}),
    ("dict_fromkeys", "{{ dict.fromkeys(['a', 'b'], 0) }}", {}),
    ("namespace_plain_attr", "{% set ns = namespace(a=1) %}{% set ns.b = 2 %}{{ ns.a }}{{ ns.b }}", {}),
    ("err_namespace_underscore_kwarg", "{% set ns = namespace(_x=1) %}{{ ns._x }}", {}),
    ("err_namespace_underscore_set", "{% set ns = namespace() %}{% set ns._y = 1 %}{{ 1 }}", {}),
]


def render(template, variables):
    try:
        return {"expected": ctu._compile_jinja_template(template).render(**variables)}
    except Exception as e:  # noqa: BLE001 - the reference is whatever jinja2 raises
        return {"error": str(e), "error_type": type(e).__name__}


def main():
    got = {k: version(k) for k in PINNED}
    if got != PINNED and "--any-version" not in sys.argv:
        sys.exit(f"pinned to {PINNED}, found {got} (pass --any-version to override)")
    with open(OUT, encoding="utf-8") as f:
        data = json.load(f)
    new_names = {n for n, _, _ in NEW_CASES}
    cases = [c for c in data["cases"] if c["name"] not in new_names]
    out = []
    changed = 0
    for c in cases:
        r = {"name": c["name"], "template": c["template"], "vars": c["vars"], **render(c["template"], c["vars"])}
        if {k: r.get(k) for k in ("expected", "error")} != {k: c.get(k) for k in ("expected", "error")}:
            changed += 1
            print(f"changed: {c['name']}", file=sys.stderr)
        out.append(r)
    for name, template, variables in NEW_CASES:
        out.append({"name": name, "template": template, "vars": variables, **render(template, variables)})
    data = {
        "note": "Expected outputs rendered by transformers 5.24.0's chat-template environment (jinja2 3.1.6, "
        "markupsafe 3.0.4: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols) "
        "with its tojson/raise_exception/strftime_now/dict/namespace); strftime_now sees 2024-07-26 09:05:03 "
        "local time. Made by tests/chat/make_jinja_cases.py.",
        "cases": out,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(out)} cases ({len(NEW_CASES)} new, {changed} existing changed)", file=sys.stderr)


if __name__ == "__main__":
    main()
